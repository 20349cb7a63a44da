/**
 * Floods by valid, connected clients: subscriptions, retained messages (count and size), QoS 2 messages never
 * released, and oversized client ids. Each: the offender cut with LIMIT_EXCEEDED and one audit record saying which
 * bound, the broker's memory bounded, a well-behaved device served throughout.
 */
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';
import {
  type Cleanups,
  connectedPeer,
  happensWithin,
  credentialsOf,
  rawPeer,
  report,
  runAll,
  sleep,
  startChildBroker,
  startProbe,
} from '../helpers/fault-broker.ts';
import { CERTFLEET } from '../helpers/pki-fixture.ts';

let pki: PkiFixture;
const cleanups: Cleanups = [];
beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002'] });
}, 60_000);
afterAll(() => pki?.cleanup());
afterEach(() => runAll(cleanups));

async function flood(
  name: string,
  args: string[],
  offenderId: string,
  attack: (peer: Awaited<ReturnType<typeof connectedPeer>>) => Promise<void>,
): Promise<{ cut: AuditRecord | undefined; records: AuditRecord[] }> {
  const broker = await startChildBroker(pki.stateDir, ['--quiet', ...args], cleanups);
  const idleRss = broker.rssMb();
  const probe = await startProbe(broker.port, pki.stateDir, 'sensor-002', cleanups);
  const offender = await connectedPeer(broker.port, pki.stateDir, offenderId, cleanups);
  let peakRss = idleRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, broker.rssMb());
  }, 100);
  cleanups.push(() => clearInterval(sampler));
  await attack(offender);
  await happensWithin(offender.closed, 20_000);
  await sleep(200);
  clearInterval(sampler);
  const stats = await probe.stop();
  const records = await broker.audit();
  const cut = records.find((r) => r.event === 'disconnected' && r.cn === offenderId);
  report(name, {
    cut: cut ? `${cut.reason}: ${cut.detail}` : 'no',
    offenderRecords: records.filter((r) => r.cn === offenderId).length,
    idleRssMB: idleRss,
    peakRssMB: peakRss,
    probe: stats,
  });
  expect(broker.alive()).toBe(true);
  expect(offender.isClosed()).toBe(true);
  expect(peakRss).toBeLessThan(2 * idleRss);
  // The other device was served throughout: never disconnected, every publish acknowledged (its latencies are
  // reported above; under load they measure the machine, not the broker).
  expect(stats.sent).toBeGreaterThan(0);
  expect(stats.acked).toBe(stats.sent);
  expect(stats.disconnects).toBe(0);
  return { cut, records };
}

it('subscription flood: 20,000 distinct filters offered, cut at the 101st', async () => {
  const { cut, records } = await flood(
    'subscription flood 20000 filters',
    ['--max-subscriptions', '100'],
    'sensor-001',
    async (peer) => {
      for (let packet = 0; packet < 200 && !peer.isClosed(); packet++) {
        const subscriptions = Array.from({ length: 100 }, (_, i) => ({
          topic: `devices/sensor-001/commands/${packet}/${i}`,
          qos: 0,
        }));
        peer.send({ cmd: 'subscribe', messageId: packet + 1, subscriptions });
        if (packet % 20 === 19) await sleep(10);
      }
    },
  );
  expect(cut).toMatchObject({ reason: 'LIMIT_EXCEEDED', detail: 'more than 100 subscriptions' });
  expect(records.filter((r) => r.cn === 'sensor-001').length).toBeLessThanOrEqual(3); // accepted, cut
});

it('retained flood: new retained topics past the store limit are refused, the publisher cut', async () => {
  const { cut, records } = await flood(
    'retained flood 2000 topics, limit 500',
    ['--max-retained', '500'],
    'dashboard',
    async (peer) => {
      for (let i = 0; i < 2000 && !peer.isClosed(); i++) {
        const topic = `devices/sensor-${i}/commands/x`;
        peer.send({ cmd: 'publish', topic, payload: 'on', qos: 0, retain: true, dup: false });
        if (i % 100 === 99) await sleep(5);
      }
    },
  );
  expect(cut).toMatchObject({ reason: 'LIMIT_EXCEEDED' });
  expect(cut?.detail).toMatch(/retained store is full \(500 topics\)/);
  expect(records.filter((r) => r.event === 'publish-denied' && r.reason === 'LIMIT_EXCEEDED')).toHaveLength(
    1,
  );
});

it('an oversized retained message is refused and its publisher cut', async () => {
  const { cut } = await flood('retained 100 KiB, limit 64 KiB', [], 'sensor-001', async (peer) => {
    const payload = Buffer.alloc(100 * 1024, 0x62);
    peer.send({
      cmd: 'publish',
      topic: 'devices/sensor-001/status',
      payload,
      qos: 0,
      retain: true,
      dup: false,
    });
  });
  expect(cut?.detail).toMatch(/retained message of 102400 bytes .* exceeds the limit of 65536/);
});

it('QoS 2 flood without PUBREL: cut at the inflight limit', async () => {
  const { cut } = await flood(
    'QoS 2 without PUBREL, 500 sent, limit 100',
    ['--max-inflight', '100'],
    'sensor-001',
    async (peer) => {
      for (let i = 1; i <= 500 && !peer.isClosed(); i++) {
        peer.send({
          cmd: 'publish',
          topic: 'devices/sensor-001/telemetry',
          payload: `${i}`,
          qos: 2,
          messageId: i,
          retain: false,
          dup: false,
        });
      }
    },
  );
  expect(cut).toMatchObject({ reason: 'LIMIT_EXCEEDED' });
  expect(cut?.detail).toMatch(/maxInflightInbound|100/);
});

it('a 60,000-character client id is refused at CONNECT, and the audit record stays small', async () => {
  const broker = await startChildBroker(pki.stateDir, ['--quiet'], cleanups);
  const peer = await rawPeer(broker.port, await credentialsOf(pki.stateDir, 'sensor-001'), cleanups);
  const clientId = `sensor-001\n\u001b[2J${'x'.repeat(60_000)}`;
  peer.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 60 });
  await Promise.race([peer.closed, sleep(5000)]);
  expect(peer.isClosed()).toBe(true);
  expect(
    peer.packets.find((p) => p.cmd === 'connack' && (p as { returnCode?: number }).returnCode === 0),
  ).toBe(undefined);
  const record = await broker.waitForAudit((r) => r.event === 'connect-refused', 'the refusal');
  expect(record).toMatchObject({ reason: 'LIMIT_EXCEEDED', cn: 'sensor-001' });
  expect(record.detail).toMatch(/client id of 60015 characters exceeds the limit of 128/);
  expect(JSON.stringify(record).length).toBeLessThan(2048);
});

it('log injection: a client id with a newline and ESC[2J reaches the console escaped, forging no line', async () => {
  // The broker's own console (no --json-ready, no --quiet): what an operator's terminal shows.
  const child = spawn(process.execPath, [CERTFLEET, '--state-dir', pki.stateDir, 'broker', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  let console = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    console += chunk.toString('latin1');
  });
  while (!/listening on mqtts:\/\/127\.0\.0\.1:(\d+)/.test(console)) await sleep(50);
  const port = Number(/listening on mqtts:\/\/127\.0\.0\.1:(\d+)/.exec(console)![1]);
  const forged = 'x\n12:00:00.000 connection-accepted      OK                cn=dashboard\u001b[2J';
  // A certificate-less peer (refused path) and a verified one (aedes path) both send it.
  const noCert = await rawPeer(port, await credentialsOf(pki.stateDir, null), cleanups);
  noCert.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: forged,
    clean: true,
    keepalive: 60,
  });
  const verified = await rawPeer(port, await credentialsOf(pki.stateDir, 'sensor-001'), cleanups);
  verified.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: forged,
    clean: true,
    keepalive: 60,
  });
  await Promise.all([
    Promise.race([noCert.closed, sleep(5000)]),
    Promise.race([verified.closed, sleep(5000)]),
  ]);
  await sleep(300);
  const lines = console.split('\n');
  expect(console).not.toContain('\u001b');
  expect(lines.filter((line) => /connection-accepted/.test(line) && line.startsWith('12:00:00.000'))).toEqual(
    [],
  );
  expect(lines.filter((line) => line.includes('x\\x0a12:00:00.000 connection-accepted')).length).toBe(2);
});
