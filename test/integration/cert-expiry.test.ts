/**
 * Short-lived certificates die on time: the broker cuts a session at its certificate's notAfter (audit EXPIRED,
 * within a second), a real client (mosquitto_sub) is cut too, and the device shows EXPIRED on its ladder. Real
 * clocks, certificates of a few seconds, real TLS, our real broker.
 */
import { execFile } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import { issueIdentities, showIdentity } from '../../pki/index.ts';
import { startTestBroker } from '../helpers/broker-fixture.ts';
import { EventLog, pkiStateDir } from '../helpers/devices-fixture.ts';
import { watchTimerLateness } from '../helpers/timer-lateness.ts';

const CLI = fileURLToPath(new URL('../../bin/certfleet.js', import.meta.url));
const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
const brokerCleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const action of brokerCleanups.splice(0).reverse()) await action();
  for (const action of cleanups.splice(0).reverse()) await action();
});

function certfleet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('certificate lifetimes in seconds', () => {
  it('`pki issue --validity 45s` issues a certificate that ends 45 s from now; a bad lifetime says why', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const before = Date.now();
    const issued = await certfleet([
      '--state-dir',
      stateDir,
      'pki',
      'issue',
      'sensor-045',
      '--validity',
      '45s',
    ]);
    expect(issued.code).toBe(0);
    const info = await showIdentity(stateDir, 'sensor-045');
    const notAfter = Date.parse(info.notAfter);
    expect(notAfter).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 44_000);
    expect(notAfter).toBeLessThanOrEqual(Date.now() + 46_000);
    expect(notAfter - Date.parse(info.notBefore)).toBeLessThan(60_000); // backdated by a tenth, not 5 minutes

    const bad = await certfleet(['--state-dir', stateDir, 'pki', 'issue', 'sensor-046', '--validity', '10x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ERROR: invalid --validity: "10x" is not a lifetime/);
    expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/);
  }, 120_000); // two CLI starts: slow on a loaded machine
});

describe('expiry during a session', () => {
  it('the broker cuts the session at notAfter with EXPIRED (≤ 1 s late, beyond how late timers run here) and the device shows it', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const { broker, waitFor } = await startTestBroker(stateDir, {}, brokerCleanups);
    const [spec] = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      count: 1,
      intervalMs: 500,
      validityMs: 4_000,
    });
    const log = new EventLog();
    const device = new SimulatedDevice({ ...spec!, rotate: false }, log.push);
    cleanup(() => device.stop());
    device.start();
    await log.state('sensor-001', 'online');

    // The broker runs in this process: its expiry timer is as late as any timer here (measured meanwhile).
    const lateness = watchTimerLateness();
    cleanup(() => lateness.stop());
    const cut = await waitFor((r) => r.event === 'expired-session-closed', 'the expiry cut');
    expect(cut).toMatchObject({ reason: 'EXPIRED', cn: 'sensor-001' });
    const late = Date.parse(cut.ts) - Date.parse(cut.cert!.validTo);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThanOrEqual(1_000 + lateness.worst());
    const end = await waitFor((r) => r.event === 'disconnected' && r.cn === 'sensor-001');
    expect(end.reason).toBe('EXPIRED');

    const rejected = (await log.waitFor((e) => e.type === 'rejected')) as Extract<
      DeviceEvent,
      { type: 'rejected' }
    >;
    expect(rejected).toMatchObject({ reason: 'EXPIRED', step: 'messages-flow' });
    const ladder = log.events.filter((e) => e.type === 'ladder').at(-1);
    const step = ladder?.type === 'ladder' ? ladder.attempt.steps.find((s) => s.status === 'failed') : null;
    expect(step).toMatchObject({ step: 'messages-flow', reason: 'EXPIRED' });
  });

  it('cuts an independent client (mosquitto_sub) at expiry too, and refuses it afterwards', async () => {
    const stateDir = await pkiStateDir(cleanup);
    await issueIdentities(stateDir, ['observer-short'], { validityMs: 3_000 });
    const info = await showIdentity(stateDir, 'observer-short');
    const { broker, waitFor } = await startTestBroker(stateDir, {}, brokerCleanups);
    const args = ['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', info.paths.ca];
    const tls = [
      '--cert',
      info.paths.chain,
      '--key',
      info.paths.key,
      '-i',
      'observer-short',
      '-V',
      'mqttv311',
    ];
    const sub = spawn('mosquitto_sub', [...args, ...tls, '-t', 'devices/+/telemetry']);
    cleanup(() => sub.kill());
    const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
    await waitFor((r) => r.event === 'connection-accepted' && r.cn === 'observer-short');
    const lateness = watchTimerLateness(); // the broker is in this process, as above
    cleanup(() => lateness.stop());
    const cut = await waitFor((r) => r.event === 'expired-session-closed', 'the expiry cut');
    expect(Date.parse(cut.ts) - Date.parse(info.notAfter)).toBeLessThanOrEqual(1_000 + lateness.worst());
    sub.kill(); // mosquitto_sub reconnects forever; its next handshake must be refused
    await exited;
    const again = spawn('mosquitto_sub', [...args, ...tls, '-t', 'devices/+/telemetry', '-W', '3']);
    cleanup(() => again.kill());
    const refused = await waitFor(
      (r) => r.event === 'handshake-refused' && r.cn === 'observer-short',
      'the refused reconnect',
    );
    expect(refused.reason).toBe('EXPIRED');
  });
});
