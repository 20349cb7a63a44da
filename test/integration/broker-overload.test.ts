/**
 * An overloaded broker degrades, never collapses: past its handshake capacity it closes new connections at once,
 * before any TLS work (BROKER_BUSY), finishes the handshakes it started, and every valid device gets in on a later
 * attempt — told "busy", never "rejected". A silent-socket flood at the same capacity still cannot starve a device.
 * Real broker (child process), real TLS, real certificates; floods bounded, from 127.0.0.2.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';
import {
  type Cleanups,
  report,
  runAll,
  sleep,
  startChildBroker,
  startProbe,
} from '../helpers/fault-broker.ts';

const DEVICES = 60;
const CAP = 6;

let pki: PkiFixture;
const cleanups: Cleanups = [];
beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-900'] });
}, 60_000);
afterAll(() => pki?.cleanup());
afterEach(() => runAll(cleanups));

/** Stops the broker with SIGTERM (it flushes aggregated counts) and returns its audit. */
async function stopAndRead(broker: Awaited<ReturnType<typeof startChildBroker>>): Promise<AuditRecord[]> {
  broker.child.kill('SIGTERM');
  expect((await broker.exited).code).toBe(0);
  return broker.audit();
}

const refusedCount = (records: AuditRecord[], reason?: string) =>
  records
    .filter((r) => r.event === 'handshake-refused' && (reason === undefined || r.reason === reason))
    .reduce((sum, r) => sum + (r.count ?? 1), 0);

it(`a burst of ${DEVICES} devices at a broker that takes ${CAP} handshakes at once: all online, each refusal audited once`, async () => {
  const broker = await startChildBroker(pki.stateDir, ['--quiet', '--max-handshakes', String(CAP)], cleanups);
  const specs = await planFleet({
    stateDir: pki.stateDir,
    broker: { host: '127.0.0.1', port: broker.port },
    count: DEVICES,
    profiles: ['climate'],
    intervalMs: 60_000,
    keyType: 'ec',
  });
  const events: DeviceEvent[] = [];
  const online = new Set<string>();
  const devices = specs.map(
    (spec) =>
      new SimulatedDevice({ ...spec, backoff: { initialMs: 100, maxMs: 800, seed: spec.id } }, (event) => {
        events.push(event);
        if (event.type === 'state' && event.state === 'online') online.add(event.id);
      }),
  );
  cleanups.push(async () => {
    await Promise.all(devices.map((device) => device.stop()));
  });
  const started = Date.now();
  for (const device of devices) device.start(); // no rate gate: all dial at once
  while (online.size < DEVICES && Date.now() - started < 45_000) await sleep(50);
  const secondsToAllOnline = (Date.now() - started) / 1000;
  const results = devices.map((device) => device.result());
  await Promise.all(devices.map((device) => device.stop()));
  const records = await stopAndRead(broker);
  const failedAttempts = results.reduce((sum, result) => sum + result.attempts, 0) - DEVICES;
  const retries = events.filter(
    (e): e is Extract<DeviceEvent, { type: 'state' }> => e.type === 'state' && e.state === 'backing-off',
  );
  const busyRecords = records.filter((r) => r.event === 'handshake-refused' && r.reason === 'BROKER_BUSY');
  report('burst past the handshake capacity', {
    devices: DEVICES,
    cap: CAP,
    online: online.size,
    secondsToAllOnline,
    failedAttempts,
    refused: refusedCount(records),
    busy: refusedCount(records, 'BROKER_BUSY'),
    busyRecords: busyRecords.length,
    retryReasons: [...new Set(retries.map((e) => e.reason))].join(','),
  });
  expect(online.size).toBe(DEVICES);
  expect(events.some((e) => e.type === 'rejected')).toBe(false);
  // The burst did overrun the capacity, and the broker said so…
  expect(refusedCount(records, 'BROKER_BUSY')).toBeGreaterThan(0);
  // …once per refused attempt (every failed attempt is one refusal, each counted exactly once)…
  expect(refusedCount(records)).toBe(failedAttempts);
  // …in a bounded number of records: the first few per address and reason, then counts.
  expect(busyRecords.length).toBeLessThan(40);
  // The devices were told "busy" for each of those attempts, and retried.
  expect(retries.length).toBe(failedAttempts);
  for (const retry of retries) {
    expect(retry.reason).toBe('BROKER_BUSY');
    expect(retry.detail).toMatch(/^broker busy/);
  }
}, 90_000);

it('a silent-socket flood at the handshake capacity cannot starve a device: silent peers give up their slots', async () => {
  const HANDSHAKE_TIMEOUT = 2000;
  const broker = await startChildBroker(
    pki.stateDir,
    ['--quiet', '--max-handshakes', '32', '--handshake-timeout', String(HANDSHAKE_TIMEOUT)],
    cleanups,
  );
  // 32 silent sockets fill every slot; the flood then keeps trying for new ones, 50 a second, for 4 s.
  const sockets: net.Socket[] = [];
  let closed = 0;
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
  });
  const open = () => {
    const socket = net.connect({ host: '127.0.0.1', port: broker.port, localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    socket.resume();
    socket.once('close', () => closed++);
    sockets.push(socket);
  };
  for (let i = 0; i < 32; i++) open();
  const flood = setInterval(open, 20);
  cleanups.push(() => clearInterval(flood));
  await sleep(200);
  const probe = await startProbe(broker.port, pki.stateDir, 'sensor-900', cleanups);
  await sleep(Math.max(0, 4000 - probe.connectMs));
  clearInterval(flood);
  const stats = await probe.stop();
  const deadline = Date.now() + HANDSHAKE_TIMEOUT + 2000;
  while (closed < sockets.length && Date.now() < deadline) await sleep(50);
  const records = await stopAndRead(broker);
  const evicted = records
    .filter((r) => r.event === 'handshake-refused' && /^evicted: no byte/.test(r.detail ?? ''))
    .reduce((sum, r) => sum + (r.count ?? 1), 0);
  report('silent flood at the handshake capacity', {
    sockets: sockets.length,
    closed,
    busy: refusedCount(records, 'BROKER_BUSY'),
    evicted,
    deviceConnectMs: probe.connectMs,
    probe: stats,
  });
  // The device got a slot — by evicting a peer silent for half the deadline — well before the silent ones' deadline.
  expect(probe.connectMs).toBeLessThan(HANDSHAKE_TIMEOUT * 3);
  expect(evicted).toBeGreaterThan(0);
  expect(refusedCount(records, 'BROKER_BUSY')).toBeGreaterThan(0);
  expect(stats.acked).toBe(stats.sent);
  expect(closed).toBe(sockets.length); // every attacker socket closed, none left holding a slot
}, 60_000);

it('a trickle flood at the handshake capacity cannot starve a device: the oldest gives up its slot at half the deadline', async () => {
  const HANDSHAKE_TIMEOUT = 4000;
  const broker = await startChildBroker(
    pki.stateDir,
    ['--quiet', '--max-handshakes', '32', '--handshake-timeout', String(HANDSHAKE_TIMEOUT)],
    cleanups,
  );
  // A ClientHello, one byte every 100 ms: never quiet long enough to look silent, never finished.
  const hello = await new Promise<Buffer>((resolve) => {
    const capture = net.createServer((socket) =>
      socket.once('data', (chunk) => {
        resolve(chunk);
        socket.destroy();
        capture.close();
      }),
    );
    capture.listen(0, '127.0.0.1', () => {
      const { port } = capture.address() as net.AddressInfo;
      tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }).on('error', () => {});
    });
  });
  const sockets: net.Socket[] = [];
  let closed = 0;
  const timers: NodeJS.Timeout[] = [];
  cleanups.push(() => {
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets) socket.destroy();
  });
  const open = () => {
    const socket = net.connect({ host: '127.0.0.1', port: broker.port, localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    socket.resume();
    socket.once('close', () => closed++);
    let at = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || at >= hello.length) return clearInterval(timer);
      socket.write(hello.subarray(at, ++at));
    }, 100);
    timers.push(timer);
    sockets.push(socket);
  };
  for (let i = 0; i < 32; i++) open();
  const flood = setInterval(open, 50); // and 20 more a second, for as long as the device tries
  cleanups.push(() => clearInterval(flood));
  await sleep(200);
  const probe = await startProbe(broker.port, pki.stateDir, 'sensor-900', cleanups);
  clearInterval(flood);
  await sleep(500); // and is served
  const stats = await probe.stop();
  const records = await stopAndRead(broker);
  const overdue = records.filter(
    (r) => r.event === 'handshake-refused' && /^evicted: still handshaking/.test(r.detail ?? ''),
  ).length;
  report('trickle flood at the handshake capacity', {
    sockets: sockets.length,
    closed,
    busy: refusedCount(records, 'BROKER_BUSY'),
    overdueEvictions: overdue,
    deviceConnectMs: probe.connectMs,
    probe: stats,
  });
  // In before the first trickles' deadline: a slot freed at half of it, not at the deadline.
  expect(probe.connectMs).toBeLessThan(HANDSHAKE_TIMEOUT);
  expect(overdue).toBeGreaterThan(0);
  expect(stats.sent).toBeGreaterThan(0);
  expect(stats.acked).toBe(stats.sent);
}, 60_000);
