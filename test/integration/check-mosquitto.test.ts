/**
 * `certfleet check` against Debian's Mosquitto, started from a generated config over our PKI (require_certificate,
 * CRL, use_identity_as_username): the built-in scenario finds exactly what Mosquitto cannot do without an ACL, a
 * Mosquitto ACL the scenario expects makes the behaviour rogues pass, and a broker that is not there is exit code 2.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { mosquittoAcl } from '../../bench/lib/mosquitto-config.ts';
import { builtinScenario, CheckImpossible, parseScenario, runCheck } from '../../devices/check/index.ts';
import { generateRogueKit, initPki } from '../../pki/index.ts';
import { freePort, startMosquitto } from '../helpers/devices-mosquitto.ts';
import { certfleet } from '../helpers/pki-fixture.ts';

let stateDir: string;
let workDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'certfleet-check-'));
  workDir = await mkdtemp(join(tmpdir(), 'certfleet-check-mosquitto-'));
  await initPki(stateDir);
  // Mosquitto reads its CRL once at start: the kit (which revokes `rogue-revoked`) must exist before.
  await generateRogueKit(stateDir);
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

async function mosquitto(options: { aclFile?: string } = {}) {
  const dir = await mkdtemp(join(workDir, 'run-'));
  const running = await startMosquitto(stateDir, dir, options);
  onTestFinished(() => running.stop());
  return running;
}

/** The failing testcases of a JUnit file, by name. */
function junitFailures(xml: string): string[] {
  return [...xml.matchAll(/<testcase [^>]*name="([^"]+)"[^>]*>\s*<failure /g)].map((match) => match[1]!);
}

describe('certfleet check against Mosquitto', () => {
  it('without an ACL: exit 1, and exactly unknown-cn and the behaviour rogues fail (JUnit names them)', async () => {
    const broker = await mosquitto();
    const junit = join(workDir, 'no-acl.xml');
    const result = await certfleet(stateDir, [
      'check',
      '--broker',
      `mqtts://127.0.0.1:${broker.port}`,
      '--junit',
      junit,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const xml = await readFile(junit, 'utf8');
    expect(junitFailures(xml).sort()).toEqual([
      'rogue clientid-spoof',
      'rogue topic-overreach',
      'rogue unknown-cn',
      'rogue wildcard-snoop',
    ]);
    expect(xml).toMatch(/<testsuites [^>]*tests="19" failures="4"/);
    expect(result.stdout).toMatch(/✗ rogue unknown-cn +expected rejected +observed online/);
    expect(result.stdout).toMatch(/✓ rogue expired +expected rejected +observed rejected EXPIRED at step 5/);
    expect(result.stdout).toMatch(/✓ device sensor-001 +expected online +observed online/);
    expect(result.stdout).toContain('19 checks: 15 passed, 4 failed, 0 skipped');
  }, 180_000);

  it('with the ACL the scenario expects: topic-overreach and wildcard-snoop pass, exit 0', async () => {
    const aclFile = join(workDir, 'acl');
    await writeFile(aclFile, mosquittoAcl());
    const broker = await mosquitto({ aclFile });
    const scenario = join(workDir, 'mosquitto-acl.yaml');
    await writeFile(
      scenario,
      [
        'version: 1',
        'name: Mosquitto with use_identity_as_username and an ACL',
        'settle: 8s',
        'devices:',
        '  - count: 2',
        'rogues:',
        '  - kind: expired',
        '    reason: EXPIRED',
        '    step: client-verified',
        '  - kind: topic-overreach',
        '  - kind: wildcard-snoop',
        '  # Mosquitto has no identity policy and does not bind the client id to the certificate:',
        '  - kind: unknown-cn',
        '    expect: online',
        '  - kind: clientid-spoof',
        '    expect: online',
        'behaviour:',
        '  - as: sensor-002',
        '    publish: devices/sensor-002/telemetry',
        '    expect: grant',
        '',
      ].join('\n'),
    );
    const report = await runCheck({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      brokerName: `mosquitto:${broker.port}`,
      scenario: parseScenario(await readFile(scenario, 'utf8'), scenario),
    });
    const byName = new Map(report.results.map((result) => [result.name, result]));
    expect(report.results.filter((result) => result.status !== 'pass')).toEqual([]);
    expect(report.exitCode).toBe(0);
    // Mosquitto acknowledges a publish its ACL forbids and drops it: only the witness shows it was denied.
    expect(byName.get('rogue topic-overreach')?.observed).toMatchObject({
      outcome: 'rejected',
      reason: 'PUBLISH_DENIED',
    });
    // MQTT 3.1.1: Mosquitto acknowledges and drops the publish (only the witness can tell); MQTT 5 (the devices'
    // default): it closes the connection after the publish.
    expect(byName.get('rogue topic-overreach')?.observed?.detail).toMatch(
      /never reached a subscriber|closed the connection after the publish/,
    );
    expect(byName.get('rogue wildcard-snoop')?.observed).toMatchObject({
      outcome: 'rejected',
      reason: 'SUBSCRIBE_DENIED',
    });
    expect(byName.get('publish sensor-002 → devices/sensor-002/telemetry')?.observed?.outcome).toBe('grant');
  }, 120_000);

  it('an unreachable port: the run cannot happen (exit code 2, reason on stderr) within 10 s', async () => {
    const port = await freePort();
    const started = Date.now();
    const attempt = runCheck({
      stateDir,
      broker: { host: '127.0.0.1', port },
      brokerName: `mqtts://127.0.0.1:${port}`,
      scenario: builtinScenario(),
    });
    await expect(attempt).rejects.toBeInstanceOf(CheckImpossible);
    await expect(attempt).rejects.toThrow(/broker unreachable: 127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(10_000);

    const junit = join(workDir, 'unreachable.xml');
    const result = await certfleet(stateDir, [
      'check',
      '--broker',
      `mqtts://127.0.0.1:${port}`,
      '--junit',
      junit,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ERROR: broker unreachable: 127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(await readFile(junit, 'utf8')).toMatch(/<error message="broker unreachable/);
  }, 60_000);
});
