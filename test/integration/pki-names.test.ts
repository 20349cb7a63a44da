/** Reserved and odd names, and a corrupt certificate among many, at the CLI an operator types into. */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../core/user-error.ts';
import { initPki, issueIdentities, listIdentities, revokeIdentity, showIdentity } from '../../pki/index.ts';
import { certfleet, makeStateDir } from '../helpers/pki-fixture.ts';

let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir('certfleet-names-'));
  await initPki(stateDir);
  await issueIdentities(stateDir, ['sensor-001', 'sensor-002', 'sensor-003']);
}, 120_000);
afterAll(() => cleanup?.());

/** An `ERROR: …` line a person can act on: exit 1, no stack trace. */
function expectUserError(result: { code: number; stderr: string }, message: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^ERROR: /);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
}

describe('reserved ids', () => {
  it.each<[string, string[]]>([
    ['root-ca', []],
    ['issuing-ca', []],
    ['server', ['--force']],
    ['dashboard', ['--force']],
    ['Server', []],
  ])('`pki issue %s %s` is refused and the identity keeps its role', async (id, extra) => {
    const before = await showIdentity(stateDir, id.toLowerCase());
    const result = await certfleet(stateDir, ['pki', 'issue', id, ...extra]);
    expectUserError(result, new RegExp(`'${id}' is reserved`));
    const after = await showIdentity(stateDir, id.toLowerCase());
    expect(after.serial).toBe(before.serial);
    expect(after.role).toBe(id.toLowerCase());
  });

  it('the broker keeps serverAuth and the dashboard clientAuth', async () => {
    expect((await showIdentity(stateDir, 'server')).extKeyUsage).toEqual(['serverAuth']);
    expect((await showIdentity(stateDir, 'dashboard')).extKeyUsage).toEqual(['clientAuth']);
    expect((await showIdentity(stateDir, 'root-ca')).role).toBe('root-ca');
  });
});

describe('ids that are names of JavaScript object members', () => {
  it.each(['__proto__', 'constructor'])('`pki show|revoke %s` answers "unknown identity"', async (id) => {
    expectUserError(
      await certfleet(stateDir, ['pki', 'show', id]),
      /unknown identity: '.+' was never issued/,
    );
    expectUserError(
      await certfleet(stateDir, ['pki', 'revoke', id]),
      /unknown identity: '.+' was never issued/,
    );
  });

  it.each(['toString', 'hasOwnProperty', 'valueOf'])('show and revoke of %s are user errors', async (id) => {
    await expect(showIdentity(stateDir, id)).rejects.toThrow(/unknown identity/);
    await expect(revokeIdentity(stateDir, id)).rejects.toBeInstanceOf(UserError);
  });

  it('`constructor` can be issued as an ordinary device and then shown', async () => {
    await issueIdentities(stateDir, ['constructor']);
    expect((await showIdentity(stateDir, 'constructor')).role).toBe('device');
  });
});

describe('pki list with one corrupt certificate among many', () => {
  it('lists every identity, marks the corrupt one and says how to fix it', async () => {
    const broken = await showIdentity(stateDir, 'sensor-002');
    await writeFile(
      broken.paths.cert,
      '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n',
    );
    const listed = await listIdentities(stateDir);
    expect(listed.find((info) => info.id === 'sensor-002')).toMatchObject({
      status: 'corrupt',
      serial: broken.serial,
      problem: expect.stringContaining(broken.paths.cert),
    });
    expect(listed.find((info) => info.id === 'sensor-003')?.status).toBe('valid');
    const result = await certfleet(stateDir, ['pki', 'list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sensor-001\s+device\s+valid/);
    expect(result.stdout).toMatch(/sensor-002\s+device\s+CORRUPT/);
    expect(result.stdout).toMatch(/sensor-003\s+device\s+valid/);
    expect(result.stderr).toContain("warning: 'sensor-002' is corrupt");
    expect(result.stderr).toContain('certfleet pki issue sensor-002 --force');
  });
});
