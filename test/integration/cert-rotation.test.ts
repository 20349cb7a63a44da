/**
 * Rotation over MQTT with real clocks: a device whose certificate lives 4 s renews it again and again on its own
 * enrollment topic (new key in the device, CSR, the broker's enrollment service signs, the device reconnects with
 * it) and never loses a QoS 1 message: an independent subscriber (mosquitto_sub, QoS 1) sees every sequence number
 * the device sent. The long version (20 s certificates for 2 minutes) is bench/rotation-soak.ts.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import { ensureIdentity, revokeIdentity, showIdentity } from '../../pki/index.ts';
import { startTestBroker } from '../helpers/broker-fixture.ts';
import { EventLog, pkiStateDir } from '../helpers/devices-fixture.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
const brokerCleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
  for (const action of brokerCleanups.splice(0).reverse()) await action();
});

type Rotated = Extract<DeviceEvent, { type: 'rotated' }>;

describe('rotation over MQTT', () => {
  it('a device with 4 s certificates rotates several times and loses no QoS 1 message', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const { broker, records, waitFor } = await startTestBroker(stateDir, {}, brokerCleanups);
    const observer = await ensureIdentity(stateDir, 'observer-rotation');
    const sub = spawn('stdbuf', [
      '-oL',
      'mosquitto_sub',
      ...['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', observer.paths.ca],
      ...['--cert', observer.paths.chain, '--key', observer.paths.key, '-i', observer.id, '-V', 'mqttv311'],
      ...['-q', '1', '-t', 'devices/sensor-001/telemetry'],
    ]);
    cleanup(() => sub.kill());
    let out = '';
    sub.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitFor((r) => r.event === 'connection-accepted' && r.cn === observer.id);

    const [spec] = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      count: 1,
      intervalMs: 200,
      validityMs: 4_000,
    });
    // Renew at half of the lifetime rather than the default fifth: room for a loaded CI machine.
    const log = new EventLog();
    const device = new SimulatedDevice({ ...spec!, renewBefore: 0.5 }, log.push);
    cleanup(() => device.stop());
    device.start();
    await log.state('sensor-001', 'online');
    for (let n = 1; n <= 4; n++) {
      await log.waitFor(
        (e) => e.type === 'rotated' && log.events.filter((x) => x.type === 'rotated').length >= n,
        15_000,
      );
    }
    await device.stop();
    const result = device.result();
    await expect
      .poll(() => new Set(out.trim().split('\n').filter(Boolean)).size, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(result.messages.sent);

    // The device: several rotations, a chain of serials, never rejected, every publish acknowledged.
    const rotated = log.events.filter((e): e is Rotated => e.type === 'rotated');
    expect(rotated.length).toBeGreaterThanOrEqual(4);
    for (const [index, event] of rotated.entries()) {
      expect(event.serial).not.toBe(event.previousSerial);
      if (index > 0) expect(event.previousSerial).toBe(rotated[index - 1]!.serial);
    }
    expect(log.events.some((e) => e.type === 'rejected')).toBe(false);
    expect(result.rotations).toBe(rotated.length);
    expect(result.messages.acked).toBe(result.messages.sent);

    // The subscriber: every sequence number 1..sent arrived (QoS 1 may repeat one, never drop one).
    const seqs = new Set(
      out
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { seq: number }).seq),
    );
    expect([...seqs].sort((a, b) => a - b)).toEqual(
      Array.from({ length: result.messages.sent }, (_, i) => i + 1),
    );

    // The broker: each rotation audited with the old and new serial; no session was cut at expiry.
    const issued = records.filter((r) => r.event === 'enrollment-issued');
    expect(issued.map((r) => r.issued?.serial)).toEqual(expect.arrayContaining(rotated.map((e) => e.serial)));
    for (const record of issued) expect(record.issued).toMatchObject({ cn: 'sensor-001', via: 'rotation' });
    expect(records.some((r) => r.event === 'expired-session-closed')).toBe(false);
    expect(
      records
        .filter((r) => r.event === 'disconnected' && r.cn === 'sensor-001')
        .every((r) => r.reason === 'CLIENT_CLOSED'),
    ).toBe(true);
  }, 60_000);

  it('revoking a device revokes its rotated certificates too (the CRL names only the first serial)', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const { broker, records, waitFor } = await startTestBroker(stateDir, {}, brokerCleanups);
    const [spec] = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      count: 1,
      intervalMs: 500,
      validityMs: 30_000,
    });
    const log = new EventLog();
    const device = new SimulatedDevice({ ...spec!, renewBefore: 0.8 }, log.push);
    cleanup(() => device.stop());
    device.start();
    const rotated = (await log.waitFor((e) => e.type === 'rotated', 20_000)) as Rotated;
    const { serial: original } = await showIdentity(stateDir, 'sensor-001');
    expect(rotated.previousSerial).toBe(original);
    await log.waitFor((e) => e.type === 'state' && e.state === 'online' && e.at >= rotated.at - 5);
    await revokeIdentity(stateDir, 'sensor-001');
    const cut = await waitFor((r) => r.event === 'revoked-session-closed', 'the cut of the rotated session');
    expect(cut.cert?.serial).not.toBe(original);
    expect(cut.detail).toMatch(new RegExp(`renewed certificate ${original}, which is now in the CRL`));
    // The device learns it was revoked (from the broker's audit, or by coming back and being refused at CONNECT).
    const rejected = (await log.waitFor((e) => e.type === 'rejected', 20_000)) as Extract<
      DeviceEvent,
      { type: 'rejected' }
    >;
    expect(rejected.reason).toBe('REVOKED');
    const refused = records.find((r) => r.event === 'connect-refused' && r.cn === 'sensor-001');
    if (refused) expect(refused.detail).toMatch(/renewed certificate .* which is revoked/);
  }, 60_000);
});
