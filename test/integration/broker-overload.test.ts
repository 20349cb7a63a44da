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
  happensWithin,
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
  // A handshake deadline far longer than a handshake takes even on a loaded machine: this test is about the cap, and
  // a handshake cut at its deadline looks to the device like a refused certificate (a bare close right after it).
  const broker = await startChildBroker(
    pki.stateDir,
    ['--quiet', '--max-handshakes', String(CAP), '--handshake-timeout', '30000'],
    cleanups,
  );
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
  let allOnline = () => {};
  const everyoneOnline = new Promise<void>((resolve) => {
    allOnline = resolve;
  });
  const devices = specs.map(
    (spec) =>
      new SimulatedDevice({ ...spec, backoff: { initialMs: 100, maxMs: 800, seed: spec.id } }, (event) => {
        events.push(event);
        if (event.type === 'state' && event.state === 'online') online.add(event.id);
        if (online.size === DEVICES) allOnline();
      }),
  );
  cleanups.push(async () => {
    await Promise.all(devices.map((device) => device.stop()));
  });
  const started = Date.now();
  for (const device of devices) device.start(); // no rate gate: all dial at once
  // Waits for the last device to come online; the cap only turns a broker that never lets them all in into a failure
  // that says how many made it, before the test's own timeout.
  await happensWithin(everyoneOnline, 100_000);
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
    timeouts: refusedCount(records, 'TIMEOUT'),
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
}, 150_000);

/**
 * Attacker sockets from 127.0.0.2 — the flood both tests below build: `open()` adds one (`feed`, if given, starts
 * writing to it and returns how to stop), `flood(n, everyMs)` opens n at once and then one every `everyMs` until
 * `stopFlood()`. Every socket and timer is cleaned up after the test, whatever happens.
 */
function attackerSockets(port: number, feed?: (socket: net.Socket) => () => void) {
  const sockets: net.Socket[] = [];
  const stops: (() => void)[] = [];
  let closed = 0;
  const closeWaiters = new Set<() => void>();
  let flood: NodeJS.Timeout | undefined;
  cleanups.push(() => {
    clearInterval(flood);
    for (const stop of stops) stop();
    for (const socket of sockets) socket.destroy();
  });
  const open = () => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    socket.resume(); // discard what the broker sends, so that its close is seen
    socket.once('close', () => {
      closed++;
      for (const waiter of closeWaiters) waiter();
    });
    if (feed) stops.push(feed(socket));
    sockets.push(socket);
  };
  return {
    sockets,
    closed: () => closed,
    flood(initial: number, everyMs: number) {
      for (let i = 0; i < initial; i++) open();
      flood = setInterval(open, everyMs);
    },
    stopFlood: () => clearInterval(flood),
    /** Resolves once the broker closed every socket opened, or after `capMs` (then `closed()` says how many). */
    allClosed: (capMs: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          if (closed < sockets.length) return;
          clearTimeout(timer);
          closeWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          closeWaiters.delete(done);
          resolve();
        }, capMs);
        closeWaiters.add(done);
        done();
      }),
  };
}

it('a silent-socket flood at the handshake capacity cannot starve a device: silent peers give up their slots', async () => {
  // Long enough that the device's own handshake, even on a loaded machine, fits in the half of it between a slot
  // freed by evicting a silent peer (at half the deadline) and the deadline itself.
  const HANDSHAKE_TIMEOUT = 8000;
  const broker = await startChildBroker(
    pki.stateDir,
    ['--quiet', '--max-handshakes', '32', '--handshake-timeout', String(HANDSHAKE_TIMEOUT)],
    cleanups,
  );
  // 32 silent sockets fill every slot; the flood then keeps trying for new ones, 50 a second, for 5 s (past the
  // half deadline at which a silent one gives up its slot).
  const attackers = attackerSockets(broker.port);
  const floodStarted = Date.now();
  attackers.flood(32, 20);
  await sleep(200);
  const probe = await startProbe(broker.port, pki.stateDir, 'sensor-900', cleanups);
  const onlineAfterMs = Date.now() - floodStarted;
  await sleep(Math.max(0, 5000 - onlineAfterMs));
  attackers.stopFlood();
  const stats = await probe.stop();
  // The last silent socket is closed at the deadline at the latest; the cap is only there so that a broker that
  // never closes them fails here rather than at the test's timeout.
  await attackers.allClosed(3 * HANDSHAKE_TIMEOUT);
  const records = await stopAndRead(broker);
  const evicted = records
    .filter((r) => r.event === 'handshake-refused' && /^evicted: no byte/.test(r.detail ?? ''))
    .reduce((sum, r) => sum + (r.count ?? 1), 0);
  report('silent flood at the handshake capacity', {
    sockets: attackers.sockets.length,
    closed: attackers.closed(),
    busy: refusedCount(records, 'BROKER_BUSY'),
    evicted,
    deviceConnectMs: probe.connectMs,
    onlineAfterFloodMs: onlineAfterMs,
    probe: stats,
  });
  // The device got a slot by evicting a peer silent for half the deadline: it was online before the first silent
  // sockets' deadline, counted from when they were opened (a device kept out until a deadline freed a slot could
  // not be: those sockets were accepted after that moment, and its own handshake comes on top).
  expect(evicted).toBeGreaterThan(0);
  expect(onlineAfterMs).toBeLessThan(HANDSHAKE_TIMEOUT);
  expect(refusedCount(records, 'BROKER_BUSY')).toBeGreaterThan(0);
  expect(stats.acked).toBe(stats.sent);
  expect(attackers.closed()).toBe(attackers.sockets.length); // every attacker socket closed, none left holding a slot
}, 90_000);

it('a trickle flood at the handshake capacity cannot starve a device: the oldest gives up its slot at half the deadline', async () => {
  // As above: the device's handshake must fit between half the deadline and the deadline on a loaded machine. Also,
  // the oldest is evicted only while the broker's loop is less than an eighth of this behind (admission.ts): with a
  // short deadline that would be a test of the machine's load.
  const HANDSHAKE_TIMEOUT = 12_000;
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
  const attackers = attackerSockets(broker.port, (socket) => {
    let at = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || at >= hello.length) return clearInterval(timer);
      socket.write(hello.subarray(at, ++at));
    }, 100);
    return () => clearInterval(timer);
  });
  const floodStarted = Date.now();
  attackers.flood(32, 50); // and 20 more a second, for as long as the device tries
  await sleep(200);
  const probe = await startProbe(broker.port, pki.stateDir, 'sensor-900', cleanups);
  const onlineAfterMs = Date.now() - floodStarted;
  attackers.stopFlood();
  await sleep(500); // and is served
  const stats = await probe.stop();
  const records = await stopAndRead(broker);
  const overdue = records.filter(
    (r) => r.event === 'handshake-refused' && /^evicted: still handshaking/.test(r.detail ?? ''),
  ).length;
  report('trickle flood at the handshake capacity', {
    sockets: attackers.sockets.length,
    closed: attackers.closed(),
    busy: refusedCount(records, 'BROKER_BUSY'),
    overdueEvictions: overdue,
    deviceConnectMs: probe.connectMs,
    onlineAfterFloodMs: onlineAfterMs,
    probe: stats,
  });
  // In before the first trickles' deadline, counted from when they were opened: a slot freed at half of it (kept
  // out until the deadline, the device could not be online by then: its own handshake comes on top).
  expect(overdue).toBeGreaterThan(0);
  expect(onlineAfterMs).toBeLessThan(HANDSHAKE_TIMEOUT);
  expect(stats.sent).toBeGreaterThan(0);
  expect(stats.acked).toBe(stats.sent);
}, 90_000);
