/**
 * One device at a time, in this thread, against our real broker over real TLS, with Mosquitto's clients as the
 * dashboard: telemetry, the retained status and its will, commands and replies, backoff, no retry after a rejection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import type { DeviceSpec } from '../../devices/spec.ts';
import { freePort } from '../helpers/devices-mosquitto.ts';
import {
  dashboardPublish,
  dashboardSubscribe,
  EventLog,
  ourBroker,
  pkiStateDir,
} from '../helpers/devices-fixture.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

async function device(
  spec: DeviceSpec,
  log = new EventLog(),
): Promise<{ device: SimulatedDevice; log: EventLog }> {
  const simulated = new SimulatedDevice(spec, log.push);
  cleanup(() => simulated.stop());
  simulated.start();
  return { device: simulated, log };
}

async function oneSpec(
  stateDir: string,
  port: number,
  overrides: Partial<DeviceSpec> = {},
): Promise<DeviceSpec> {
  const [spec] = await planFleet({
    stateDir,
    broker: { host: '127.0.0.1', port },
    count: 1,
    intervalMs: 300,
  });
  return { ...(spec as DeviceSpec), ...overrides };
}

const isRejected = (event: DeviceEvent): event is Extract<DeviceEvent, { type: 'rejected' }> =>
  event.type === 'rejected';

describe('a simulated device against the real broker', () => {
  it('publishes seeded telemetry with id, seq and ts, and a retained "online" status', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const broker = await ourBroker(stateDir, cleanup);
    const subscription = await dashboardSubscribe(
      stateDir,
      broker.port,
      'devices/sensor-001/telemetry',
      3,
      cleanup,
    );
    await subscription.ready;
    const { log } = await device(await oneSpec(stateDir, broker.port));
    const online = await log.state('sensor-001', 'online');
    expect(online).toMatchObject({ previous: 'mqtt-connect' });
    const lines = await subscription.lines;
    const payloads = lines.map((line) => JSON.parse(line.slice('devices/sensor-001/telemetry '.length)));
    expect(payloads.map((payload) => payload.seq)).toEqual([1, 2, 3]);
    for (const payload of payloads) {
      expect(payload).toMatchObject({ id: 'sensor-001' });
      expect(typeof payload.ts).toBe('number');
      expect(typeof payload.temperature).toBe('number');
    }
    // Retained: a late subscriber still gets the status at once.
    const status = await dashboardSubscribe(stateDir, broker.port, 'devices/sensor-001/status', 1, cleanup);
    expect(await status.lines).toEqual(['devices/sensor-001/status online']);
    // The ladder of the attempt: all seven steps passed, with timings.
    const ladder = log.events.filter((event) => event.type === 'ladder').at(-1);
    expect(ladder?.type === 'ladder' && ladder.attempt.steps.map((step) => step.status)).toEqual(
      Array(7).fill('ok'),
    );
    expect(ladder?.type === 'ladder' && ladder.attempt.localPort).toBeGreaterThan(0);
  });

  it('answers ping with latency, set-interval, and reboots (the will says offline, then back online)', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const broker = await ourBroker(stateDir, cleanup);
    const { log } = await device(await oneSpec(stateDir, broker.port, { intervalMs: 60_000 }));
    await log.state('sensor-001', 'online');
    await log.waitFor((event) => event.type === 'ladder' && event.attempt.steps[6]?.status === 'ok');

    const replies = await dashboardSubscribe(stateDir, broker.port, 'devices/sensor-001/replies', 2, cleanup);
    await replies.ready;
    const commands = 'devices/sensor-001/commands';
    await dashboardPublish(
      stateDir,
      broker.port,
      `${commands}/ping`,
      JSON.stringify({ sentAt: Date.now(), requestId: 'p1' }),
    );
    await dashboardPublish(
      stateDir,
      broker.port,
      `${commands}/set-interval`,
      JSON.stringify({ intervalMs: 2000 }),
    );
    const answers = (await replies.lines).map((line) =>
      JSON.parse(line.slice('devices/sensor-001/replies '.length)),
    );
    expect(answers[0]).toMatchObject({
      id: 'sensor-001',
      command: 'ping',
      requestId: 'p1',
      ok: true,
      result: 'pong',
    });
    expect(answers[0].latencyMs).toBeGreaterThanOrEqual(0);
    expect(answers[1]).toMatchObject({ command: 'set-interval', ok: true, result: 'interval 2000 ms' });

    const status = await dashboardSubscribe(stateDir, broker.port, 'devices/sensor-001/status', 3, cleanup);
    await status.ready;
    await dashboardPublish(stateDir, broker.port, `${commands}/reboot`, '');
    await log.waitFor(
      (event) => event.type === 'state' && event.state === 'backing-off' && event.detail === 'rebooting',
    );
    await log.waitFor(
      (event) =>
        event.type === 'ladder' && event.attempt.attempt === 2 && event.attempt.steps[6]?.status === 'ok',
    );
    // Retained "online", then the will "offline" (no DISCONNECT on reboot), then "online" again.
    expect(await status.lines).toEqual([
      'devices/sensor-001/status online',
      'devices/sensor-001/status offline',
      'devices/sensor-001/status online',
    ]);
  });

  it('retries an unreachable broker with growing backoff and never gives up', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const port = await freePort(); // nothing listens there
    const { device: simulated, log } = await device(
      await oneSpec(stateDir, port, { backoff: { initialMs: 20, maxMs: 200 } }),
    );
    for (let attempt = 1; attempt <= 4; attempt++) {
      await log.waitFor(
        (event) =>
          event.type === 'ladder' &&
          event.attempt.attempt === attempt &&
          event.attempt.steps[0]?.status === 'failed',
      );
    }
    const backingOff = log.events.filter((event) => event.type === 'state' && event.state === 'backing-off');
    expect(backingOff.length).toBeGreaterThanOrEqual(3);
    expect(backingOff.every((event) => event.type === 'state' && event.reason === 'BROKER_UNREACHABLE')).toBe(
      true,
    );
    expect(log.events.some(isRejected)).toBe(false);
    expect(simulated.result().attempts).toBeGreaterThanOrEqual(4);
  });

  it('refuses a broker certificate that does not name the host (step 3) and never retries', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const broker = await ourBroker(stateDir, cleanup);
    const spec = await oneSpec(stateDir, broker.port, { backoff: { initialMs: 10, maxMs: 10 } });
    const { device: simulated, log } = await device({
      ...spec,
      broker: { ...spec.broker, servername: 'broker.example' },
    });
    const rejected = await log.waitFor(isRejected);
    expect(rejected).toMatchObject({ reason: 'HOSTNAME_MISMATCH', step: 'server-verified' });
    // Give a retry every chance to happen (backoff is 10 ms): there must be none.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(simulated.result()).toMatchObject({ state: 'rejected', attempts: 1 });
  });

  it('many devices in one thread each present their own certificate (the shared TLS context never mixes them)', async () => {
    const stateDir = await pkiStateDir(cleanup);
    const broker = await ourBroker(stateDir, cleanup);
    const accepted: Array<{ cn?: string; clientId?: string }> = [];
    let allAccepted: () => void = () => {};
    const everyoneAccepted = new Promise<void>((resolve) => {
      allAccepted = resolve;
    });
    broker.on('audit', (record) => {
      if (record.event !== 'connection-accepted') return;
      accepted.push({ cn: record.cn, clientId: record.clientId });
      if (accepted.length === 24) allAccepted();
    });
    const specs = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      count: 24,
      profiles: ['climate', 'tracker', 'meter', 'door'],
      intervalMs: 60_000,
    });
    const log = new EventLog();
    for (const spec of specs) await device(spec, log);
    for (const spec of specs) await log.state(spec.id, 'online');
    // The broker may audit an acceptance a moment after its CONNACK: wait for the records, not for time.
    await everyoneAccepted;
    // The broker requires client id = CN, so a device holding another's certificate could not be online; the
    // audit shows each identity exactly once, under its own name.
    expect(accepted.map((entry) => entry.cn).sort()).toEqual(specs.map((spec) => spec.id).sort());
    expect(accepted.every((entry) => entry.cn === entry.clientId)).toBe(true);
  });
});
