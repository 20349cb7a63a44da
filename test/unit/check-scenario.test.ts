/** The check scenario format (line-numbered errors), the judge, and the JUnit writer. */
import { describe, expect, it } from 'vitest';
import { builtinScenario, type CheckReport, junitXml, parseScenario } from '../../devices/check/index.ts';
import { judge } from '../../devices/check/judge.ts';
import { xmlEscape } from '../../devices/check/junit.ts';
import { ROGUE_KINDS } from '../../core/rogues.ts';

const problem = (text: string) => {
  try {
    parseScenario(text, 's.yaml');
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
};

describe('scenario files', () => {
  it('the built-in scenario: one device of each profile online, every rogue kind refused', () => {
    const scenario = builtinScenario();
    expect(scenario.devices.map((entry) => [entry.profile, entry.expect])).toEqual([
      ['climate', 'online'],
      ['tracker', 'online'],
      ['meter', 'online'],
      ['door', 'online'],
    ]);
    expect(scenario.rogues.map((entry) => entry.kind)).toEqual([...ROGUE_KINDS]);
    expect(new Set(scenario.rogues.map((entry) => entry.expect))).toEqual(new Set(['rejected']));
  });

  it('defaults, steps by number, and reasons as one or a list', () => {
    const scenario = parseScenario(
      'version: 1\nrogues:\n  - kind: expired\n    reason: EXPIRED\n    step: 5\n  - kind: sha1\n    reason: [WEAK_SIGNATURE, UNKNOWN_CA]\n',
      's.yaml',
    );
    expect(scenario.settle).toBe(10_000);
    expect(scenario.witness).toBe('dashboard');
    expect(scenario.rogues[0]).toEqual({
      kind: 'expired',
      expect: 'rejected',
      reason: ['EXPIRED'],
      step: 'client-verified',
    });
    expect(scenario.rogues[1]?.reason).toEqual(['WEAK_SIGNATURE', 'UNKNOWN_CA']);
  });

  it('names the file, the line and the entry of every mistake', () => {
    expect(problem('version: 1\nrogues:\n  - kind: expird\n')).toMatch(
      /s\.yaml:3: rogues\[0\]\.kind: unknown rogue kind/,
    );
    expect(problem('version: 1\nrogues:\n  - kind: expired\n    reason: EXPIRD\n')).toMatch(
      /s\.yaml:4: rogues\[0\]\.reason: /,
    );
    expect(problem('version: 1\nsettle: soon\n')).toMatch(/s\.yaml:2: settle: "soon" is not a duration/);
    expect(problem('version: 1\ndevices:\n  - count: 2\n    id: x\n')).toMatch(
      /s\.yaml:3: devices\[0\]: give either `id` or `count`/,
    );
    expect(problem('version: 1\nbehaviour:\n  - publish: a/b\n')).toMatch(
      /s\.yaml:3: behaviour\[0\]: publish needs `as`/,
    );
    expect(problem('version: 1\nbehaviour:\n  - as: a\n    publish: a/b\n    expect: cut\n')).toMatch(
      /s\.yaml:5: behaviour\[0\]\.expect: a publish check expects grant or deny/,
    );
    expect(problem('version: 1\nrogue:\n  - kind: expired\n')).toMatch(
      /s\.yaml:2: Unrecognized key: "rogue"/,
    );
    expect(problem('version: 2\n')).toMatch(/s\.yaml:1: version: only version 1 is known/);
    expect(problem('version: 1\nrogues: [\n')).toMatch(/^invalid scenario s\.yaml: s\.yaml:\d+: /);
  });

  it('refuses a YAML alias bomb with an error instead of expanding it', () => {
    const bomb = ['version: 1', 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let level = 1; level < 9; level++)
      bomb.push(
        `${String.fromCharCode(97 + level)}: &${String.fromCharCode(97 + level)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + level)}`)
          .join(',')}]`,
      );
    expect(problem(bomb.join('\n'))).toMatch(
      /^invalid scenario s\.yaml: s\.yaml:3: YAML aliases expand to too much data/,
    );
  });
});

describe('the judge', () => {
  it('compares outcome, then reason, then step', () => {
    const observed = {
      outcome: 'rejected' as const,
      reason: 'EXPIRED',
      step: 'client-verified' as const,
      detail: '',
    };
    expect(judge({ outcome: 'rejected' }, observed)).toEqual({ status: 'pass' });
    expect(judge({ outcome: 'online' }, observed)).toEqual({
      status: 'fail',
      why: 'expected online, observed rejected',
    });
    expect(judge({ outcome: 'rejected', reasons: ['REVOKED'] }, observed)).toEqual({
      status: 'fail',
      why: 'expected reason REVOKED, observed EXPIRED',
    });
    expect(judge({ outcome: 'rejected', step: 'access-granted' }, observed)).toEqual({
      status: 'fail',
      why: 'expected at step 6 access-granted, observed at step 5 client-verified',
    });
  });
});

describe('JUnit XML', () => {
  const report: CheckReport = {
    broker: 'mqtts://x:8883',
    scenario: 'built-in',
    identityFrom: 'cn',
    startedAt: '2026-11-30T03:00:00.000Z',
    durationMs: 1500,
    exitCode: 1,
    totals: { checks: 3, passed: 1, failed: 1, skipped: 1 },
    results: [
      {
        name: 'device sensor-001',
        group: 'device',
        kind: 'climate',
        expected: { outcome: 'online' },
        observed: { outcome: 'online', detail: 'ok' },
        status: 'pass',
        durationMs: 1000,
      },
      {
        name: 'rogue unknown-cn',
        group: 'rogue',
        kind: 'unknown-cn',
        expected: { outcome: 'rejected' },
        observed: { outcome: 'online', detail: 'CONNACK 0 <"&\u0001>' },
        status: 'fail',
        why: 'expected rejected, observed online',
        durationMs: 1000,
      },
      {
        name: 'rogue expired',
        group: 'rogue',
        kind: 'expired',
        expected: { outcome: 'rejected' },
        status: 'skipped',
        why: 'needs the CA key',
        durationMs: 0,
      },
    ],
  };

  it('one testcase per check: failures name expected and observed, skips say why', () => {
    const xml = junitXml(report);
    expect(xml).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites [^>]*tests="3" failures="1" errors="0" skipped="1"/,
    );
    expect(xml).toContain('<testsuite name="rogue" tests="2" failures="1" errors="0" skipped="1"');
    expect(xml).toContain(
      '<failure message="rogue unknown-cn: expected rejected, observed online" type="online">expected rejected, observed online\nCONNACK 0 &lt;&quot;&amp;&gt;</failure>',
    );
    expect(xml).toContain('<skipped message="needs the CA key"/>');
    expect(xml.match(/<testcase /g)).toHaveLength(3);
  });

  it('escapes markup and drops characters XML 1.0 cannot carry', () => {
    expect(xmlEscape(`a<b>&"'\u0000\u001b`)).toBe('a&lt;b&gt;&amp;&quot;&apos;');
  });
});
