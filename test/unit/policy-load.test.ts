import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../core/user-error.ts';
import { DEFAULT_POLICY_YAML } from '../../pki/default-policy.ts';
import { loadPolicy, parsePolicy } from '../../broker/policy-load.ts';
import type { Grant } from '../../broker/policy.ts';

function errorOf(text: string): UserError {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('expected the policy to be refused');
}

function grantOf(text: string, cn: string): Grant {
  const resolved = parsePolicy(text, 'policy.yaml').resolve(cn);
  if ('refused' in resolved) throw new Error(resolved.refused);
  return resolved;
}

describe('policy errors name file, line and entry', () => {
  it('a malformed filter', () => {
    const error = errorOf(
      'version: 1\nidentities:\n  - cn: x\n    publish:\n      - ok/topic\n      - "a/#/b"\n',
    );
    expect(error.format()).toContain('policy.yaml:6: identities[0].publish[1]: "a/#/b"');
    expect(error.format()).toContain("'#' must be a whole level");
  });
  it('an unknown key', () => {
    const error = errorOf('version: 1\nidentities:\n  - cn: x\n    publsh: [a]\n');
    expect(error.why).toMatch(/^policy\.yaml:4: identities\[0\]: .*publsh/);
  });
  it('a missing cn', () => {
    const error = errorOf('version: 1\nidentities:\n  - publish: [a]\n');
    expect(error.why).toMatch(/^policy\.yaml:3: identities\[0\]\.cn: /);
  });
  it('a wrong version', () => {
    expect(errorOf('version: 2\nidentities: []\n').why).toBe(
      'policy.yaml:1: version: only version 1 is known',
    );
  });
  it('a $ publish grant', () => {
    expect(errorOf('version: 1\nidentities:\n  - cn: x\n    publish: ["$SYS/x"]\n').why).toMatch(
      /^policy\.yaml:4: identities\[0\]\.publish\[0\]: clients may not publish/,
    );
  });
  it('a stray placeholder', () => {
    expect(errorOf('version: 1\nidentities:\n  - cn: x\n    subscribe: ["a/{id}"]\n').why).toMatch(
      /:4: .*only placeholder/,
    );
  });
  it('broken YAML', () => {
    expect(errorOf('version: 1\nidentities: [\n').why).toMatch(/^policy\.yaml:\d+: Flow sequence/);
  });
  it('a missing file says what to run', async () => {
    await expect(loadPolicy('/nonexistent/policy.yaml')).rejects.toThrow(/does not exist/);
  });
});

describe('the default policy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certfleet-policy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads from a file and grants devices their own topics only', async () => {
    const file = join(dir, 'policy.yaml');
    await writeFile(file, DEFAULT_POLICY_YAML);
    const policy = await loadPolicy(file);
    expect(policy.requireClientIdMatchesCn).toBe(true);
    const grant = policy.resolve('sensor-001');
    if ('refused' in grant) throw new Error(grant.refused);
    expect(grant.canPublish('devices/sensor-001/telemetry')).toBe(true);
    expect(grant.canPublish('devices/sensor-002/telemetry')).toBe(false);
    expect(grant.canPublish('$SYS/certfleet/audit')).toBe(false);
    expect(grant.canSubscribe('devices/sensor-001/commands/#')).toBe(true);
    expect(grant.canSubscribe('devices/sensor-001/commands/reboot')).toBe(true);
    expect(grant.canSubscribe('devices/+/commands/#')).toBe(false);
    expect(grant.canSubscribe('#')).toBe(false);
    expect(grant.canReceive('devices/sensor-002/commands/x')).toBe(false);
  });

  it('default deny: an unknown CN, and CNs that would become wildcards', () => {
    const policy = parsePolicy(DEFAULT_POLICY_YAML, 'policy.yaml');
    expect(policy.resolve('rogue-unknown-cn')).toEqual({ refused: expect.stringMatching(/no policy entry/) });
    expect(policy.resolve('sensor-#')).toEqual({ refused: expect.stringMatching(/cannot stand in a topic/) });
    expect(policy.resolve('sensor-a/b')).toHaveProperty('refused');
  });

  it('the dashboard reads devices and the audit feed, not the broker internals', () => {
    const grant = grantOf(DEFAULT_POLICY_YAML, 'dashboard');
    expect(grant.canSubscribe('$SYS/certfleet/audit')).toBe(true);
    expect(grant.canSubscribe('$SYS/#')).toBe(false);
    expect(grant.canSubscribe('devices/+/telemetry')).toBe(true);
    expect(grant.canPublish('devices/sensor-1/commands/reboot')).toBe(true);
    expect(grant.canPublish('devices/sensor-1/telemetry')).toBe(false);
  });

  it('several matching entries add up; requireClientIdMatchesCn can be relaxed', () => {
    const text = `version: 1\nrequireClientIdMatchesCn: false\nidentities:\n  - cn: "s-*"\n    publish: ["a/{cn}"]\n  - cn: [s-1]\n    publish: [b]\n`;
    expect(parsePolicy(text, 'p.yaml').requireClientIdMatchesCn).toBe(false);
    const grant = grantOf(text, 's-1');
    expect(grant.canPublish('a/s-1')).toBe(true);
    expect(grant.canPublish('b')).toBe(true);
    expect(grantOf(text, 's-2').canPublish('b')).toBe(false);
  });
});

describe('deny rules', () => {
  const text = [
    'version: 1',
    'identities:',
    '  - cn: [myclientid, myclientid2]',
    '    publish: ["#"]',
    '    subscribe: ["#"]',
    '    deny:',
    '      subscribe: ["test/nosubscribe"]',
    '      publish: ["test/nopublish/#"]',
    '  - cn: "sensor-*"',
    '    subscribe: ["devices/+/#"]',
    '    deny:',
    '      subscribe: ["devices/{cn}/private/#"]',
  ].join('\n');

  it('override the grant: `#` minus one topic', () => {
    const grant = grantOf(text, 'myclientid');
    expect(grant.canSubscribe('test/nosubscribe')).toBe(false); // could only deliver denied topics
    // reaching some denied topics: granted, and the denied ones are never delivered (canReceive below)
    expect(grant.canSubscribe('#')).toBe(true);
    expect(grant.canSubscribe('+/+')).toBe(true);
    expect(grant.canSubscribe('test/nosubscribe/deeper')).toBe(true); // not the same topic
    expect(grant.canSubscribe('TopicA/#')).toBe(true);
    expect(grant.canReceive('test/nosubscribe')).toBe(false);
    expect(grant.canReceive('TopicA/B')).toBe(true);
    expect(grant.canPublish('test/nopublish')).toBe(false); // '#' matches the parent level
    expect(grant.canPublish('test/nopublish/x')).toBe(false);
    expect(grant.canPublish('test/nosubscribe')).toBe(true);
  });

  it('take the {cn} placeholder', () => {
    const grant = grantOf(text, 'sensor-7');
    expect(grant.canSubscribe('devices/sensor-7/private/x')).toBe(false);
    expect(grant.canSubscribe('devices/sensor-7/private/#')).toBe(false);
    expect(grant.canSubscribe('devices/+/private/x')).toBe(true);
    expect(grant.canReceive('devices/sensor-7/private/x')).toBe(false);
    expect(grant.canReceive('devices/sensor-8/private/x')).toBe(true);
    expect(grant.canSubscribe('devices/sensor-8/private/x')).toBe(true);
  });

  it('are validated like grants, with file and line', () => {
    const error = errorOf('version: 1\nidentities:\n  - cn: a\n    deny:\n      subscribe: ["a/#/b"]\n');
    expect(error.message).toMatch(/policy\.yaml:5/);
    expect(errorOf('version: 1\nidentities:\n  - cn: a\n    deny:\n      read: [x]\n').message).toMatch(
      /read/,
    );
  });
});

describe('a YAML alias bomb', () => {
  const bomb = [
    'version: 1',
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'identities: []',
  ].join('\n');

  it('is refused with the line of its first alias, not expanded', () => {
    const error = errorOf(bomb);
    expect(error.format()).toMatch(
      /^ERROR: invalid policy policy\.yaml: policy\.yaml:3: YAML aliases expand to too much data \(an alias bomb\?\)/,
    );
  });

  it('a few aliases for a shared topic list are still fine', () => {
    const text = [
      'version: 1',
      'identities:',
      '  - cn: "sensor-*"',
      '    publish: &telemetry ["devices/{cn}/telemetry"]',
      '  - cn: "meter-*"',
      '    publish: *telemetry',
    ].join('\n');
    expect(grantOf(text, 'meter-1')).toBeDefined();
  });
});
