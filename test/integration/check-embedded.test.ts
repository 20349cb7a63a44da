/**
 * `certfleet check` against our own broker: the built-in scenario passes entirely (exit 0), behaviour and lifecycle
 * checks observe what the broker really does (a revocation cuts the open session, an expired certificate is refused),
 * an outcome that differs from the scenario is exit 1 with the mismatch in words, and a bad scenario is exit 2.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type CheckReport, parseScenario, runCheck } from '../../devices/check/index.ts';
import { auditFeedExplainer } from '../../devices/explain.ts';
import { ourBroker, pkiStateDir } from '../helpers/devices-fixture.ts';
import { certfleet } from '../helpers/pki-fixture.ts';

const cleanup = (action: () => unknown) => onTestFinished(async () => void (await action()));

describe('certfleet check against the embedded broker', () => {
  it('the built-in scenario: every check ✓, exit 0', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const result = await certfleet(stateDir, ['check', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as CheckReport;
    expect(report.totals).toEqual({ checks: 19, passed: 19, failed: 0, skipped: 0 });
    const observed = Object.fromEntries(report.results.map((check) => [check.name, check.observed]));
    expect(observed['rogue expired']).toMatchObject({ reason: 'EXPIRED', step: 'client-verified' });
    expect(observed['rogue unknown-cn']).toMatchObject({
      reason: 'UNKNOWN_IDENTITY',
      step: 'access-granted',
    });
    expect(observed['rogue clientid-spoof']).toMatchObject({ reason: 'CLIENT_ID_MISMATCH' });
    expect(observed['rogue topic-overreach']).toMatchObject({
      reason: 'PUBLISH_DENIED',
      step: 'messages-flow',
    });
    expect(observed['rogue wildcard-snoop']).toMatchObject({ reason: 'SUBSCRIBE_DENIED' });
    expect(observed['rogue impostor-broker']).toMatchObject({
      reason: 'SERVER_UNTRUSTED',
      step: 'server-verified',
    });
  }, 120_000);

  it('behaviour and lifecycle checks, and an outcome that differs from the scenario (exit 1)', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const broker = await ourBroker(stateDir, cleanup);
    const explain = auditFeedExplainer((listener) => {
      broker.on('audit', listener);
      return () => broker.off('audit', listener as never);
    });
    cleanup(() => explain.close());
    const scenario = parseScenario(
      [
        'version: 1',
        'devices:',
        '  - id: sensor-050',
        'rogues:',
        '  - kind: expired',
        '    expect: online # wrong on purpose',
        '  - kind: revoked',
        '    reason: [REVOKED]',
        '    step: 5',
        'behaviour:',
        '  - as: sensor-050',
        '    publish: devices/sensor-050/telemetry',
        '    expect: grant',
        '  - as: sensor-050',
        '    subscribe: devices/sensor-050/commands/#',
        '    sample: devices/sensor-050/commands/ping',
        '    expect: deny # wrong on purpose: the policy grants it',
        '  - revoke: sensor-060',
        '    within: 3s',
        '  - expire: sensor-061',
        '    validFor: 2s',
        '',
      ].join('\n'),
      'test.yaml',
    );
    const report = await runCheck({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      brokerName: broker.url,
      scenario,
      explain,
    });
    const byName = new Map(report.results.map((check) => [check.name, check]));
    expect(report.exitCode).toBe(1);
    expect(report.results.filter((check) => check.status === 'fail').map((check) => check.name)).toEqual([
      'rogue expired',
      'subscribe sensor-050 → devices/sensor-050/commands/#',
    ]);
    expect(byName.get('rogue expired')?.why).toBe('expected online, observed rejected');
    expect(byName.get('rogue revoked')?.status).toBe('pass');
    // The dashboard (witness) published the sample command; the policy delivers it to the device.
    expect(byName.get('subscribe sensor-050 → devices/sensor-050/commands/#')?.observed?.outcome).toBe(
      'grant',
    );
    expect(byName.get('publish sensor-050 → devices/sensor-050/telemetry')?.observed?.detail).toContain(
      'reached dashboard',
    );
    const revoke = byName.get('revoke sensor-060 cuts its session within 3 s');
    expect(revoke?.status).toBe('pass');
    expect(revoke?.observed?.detail).toMatch(/ended \d+\.\d s after the revocation/);
    const expire = byName.get('expire sensor-061 after 2 s');
    expect(expire?.status).toBe('pass');
    expect(expire?.observed).toMatchObject({ outcome: 'refused', reason: 'EXPIRED' });
  }, 120_000);

  it('a bad scenario: exit 2 with the file, the line and what is wrong', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const file = join(stateDir, 'bad.yaml');
    await writeFile(file, 'version: 1\nrogues:\n  - kind: expird\n');
    const result = await certfleet(stateDir, ['check', '--scenario', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `ERROR: invalid scenario ${file}: ${file}:3: rogues[0].kind: unknown rogue kind`,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
