/**
 * A device whose session another connection takes over with the same client id — a person pasting the dashboard's
 * `mosquitto_pub -i sensor-001 …` line — says so: "taken over", not a bare "closed by the broker". The broker knows:
 * aedes closes the older session [MQTT-3.1.4-2] (an MQTT 5 one with DISCONNECT 0x8E Session taken over) and our audit
 * records its end as SESSION_TAKEN_OVER, naming the connection that took it. mosquitto_pub is the independent peer.
 */
import { afterEach, expect, it } from 'vitest';
import type { AuditRecord } from '../../core/audit.ts';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import type { DeviceSpec } from '../../devices/spec.ts';
import { ensureIdentity } from '../../pki/index.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import { runPeer } from '../helpers/broker-peers.ts';
import { EventLog, ourBroker, pkiStateDir } from '../helpers/devices-fixture.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

type StateEvent = Extract<DeviceEvent, { type: 'state' }>;

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

for (const protocolVersion of [5, 4] as const) {
  it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: mosquitto_pub with the device's client id takes its session over — the device says so`, async () => {
    const stateDir = await pkiStateDir(cleanup);
    const broker = await ourBroker(stateDir, cleanup);
    const records: AuditRecord[] = [];
    broker.on('audit', (record) => records.push(record));
    const [spec] = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      count: 1,
      keyType: 'ec',
      protocolVersion,
    });
    const log = new EventLog();
    const device = new SimulatedDevice(
      { ...(spec as DeviceSpec), backoff: { initialMs: 2_000, maxMs: 2_000 } },
      log.push,
    );
    cleanup(() => device.stop());
    device.start();
    const id = (spec as DeviceSpec).id;
    await log.state(id, 'online', 20_000);

    const identity = await ensureIdentity(stateDir, id);
    const intruder = await runPeer('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(broker.port), '-i', id],
      ...['--cafile', identity.paths.ca, '--cert', identity.paths.chain, '--key', identity.paths.key],
      ...['-t', `devices/${id}/telemetry`, '-m', '{"temperature":21.5}', '-q', '1'],
    ]).done;
    expect({ status: intruder.status, stderr: intruder.stderr }).toEqual({ status: 0, stderr: '' });

    const retry = (await log.waitFor(
      (e) => e.type === 'state' && e.id === id && e.state === 'backing-off',
      10_000,
    )) as StateEvent;
    // The broker's side: the device's session ended as taken over, by the intruder's connection.
    const accepted = records.filter((r) => r.event === 'connection-accepted');
    const [first, second] = accepted;
    await until(() => records.some((r) => r.event === 'disconnected' && r.connection === first?.connection));
    const ended = records.find((r) => r.event === 'disconnected' && r.connection === first?.connection);
    expect(ended).toMatchObject({
      reason: 'SESSION_TAKEN_OVER',
      clientId: id,
      detail: `taken over by connection ${second?.connection} with the same client id`,
    });

    // The dashboard reduces the same events and records into its log.
    const store = new FleetStore({ frameMs: 0 });
    cleanup(() => store.dispose());
    // (The fleet announces a device with 'added'; a device alone does not.)
    store.applyDeviceEvent({ type: 'added', device: { id, kind: 'climate', rogue: false }, at: Date.now() });
    for (const event of log.events) store.applyDeviceEvent(event);
    for (const record of records) store.applyAudit(record);
    const lines = store.log.map((entry) => `${entry.source}: ${entry.text}`);
    expect(lines).toContain(
      'broker: disconnected · sensor-001 · SESSION_TAKEN_OVER: taken over: another connection used the same client ' +
        `id (the broker keeps the newer one) · (taken over by connection ${second?.connection} with the same client id)`,
    );
    if (protocolVersion === 5) {
      // MQTT 5: the broker told the device itself (DISCONNECT 0x8E), and its state line says so.
      expect(retry).toMatchObject({ previous: 'online', reason: 'SESSION_TAKEN_OVER' });
      expect(retry.detail).toMatch(
        /^taken over: another connection used client id sensor-001 \(DISCONNECT 0x8e Session taken over\); retrying in \d+ ms$/,
      );
      expect(lines).toContain(
        'device: sensor-001 online → backing-off: taken over: another connection used the same client id (the broker keeps the newer one)',
      );
    } else {
      // MQTT 3.1.1 has no DISCONNECT from the server: the device sees a bare close; only the audit line knows why.
      expect(retry).toMatchObject({
        previous: 'online',
        reason: 'CLOSED_BY_BROKER',
        detail: expect.stringMatching(/^the connection was lost/),
      });
    }
  }, 60_000);
}
