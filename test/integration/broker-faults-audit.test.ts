/**
 * A complete, ordered audit: every accepted connection has its `connection-accepted` before anything it did and
 * exactly one `disconnected`, short-lived or not; a verified connection that never sends CONNECT is recorded too.
 */
import { readFileSync } from 'node:fs';
import mqttPacket from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import {
  type Cleanups,
  credentialsOf,
  happensWithin,
  rawPeer,
  report,
  runAll,
  sleep,
  startChildBroker,
} from '../helpers/fault-broker.ts';

let pki: PkiFixture;
const cleanups: Cleanups = [];
beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'] });
}, 60_000);
afterAll(() => pki?.cleanup());
afterEach(() => runAll(cleanups));

const connect = (clientId: string) =>
  mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean: true,
    keepalive: 60,
  });

it('60 short-lived clients: each has connection-accepted, then its records, then one disconnected', async () => {
  const broker = await startChildBroker(
    pki.stateDir,
    ['--quiet', '--connection-rate-per-identity', '0'],
    cleanups,
  );
  const credentials = await credentialsOf(pki.stateDir, 'sensor-001');
  const peers = [];
  for (let i = 0; i < 60; i++) {
    const peer = await rawPeer(broker.port, credentials, cleanups);
    // CONNECT, a SUBSCRIBE outside the grant (audited) and DISCONNECT in one write: nothing waits for CONNACK.
    peer.socket.write(
      Buffer.concat([
        connect('sensor-001'),
        mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] }),
        mqttPacket.generate({ cmd: 'disconnect' }),
      ]),
    );
    peer.socket.end();
    peers.push(peer);
  }
  await Promise.all(peers.map((p) => happensWithin(p.closed, 20_000)));
  // A session closed before aedes registered it is ended from its socket 2 s after the close (session-ends.ts):
  // wait for all 60 to have ended in the audit, then for that timer's span once more, so that a second
  // `disconnected` for any of them would be in the file too.
  const ended = (records: AuditRecord[]) =>
    new Set(records.filter((r) => r.event === 'disconnected').map((r) => r.connection)).size;
  const cap = Date.now() + 30_000;
  while (ended(await broker.audit()) < 60 && Date.now() < cap) await sleep(100);
  await sleep(2500);
  const records = (await broker.audit()).filter((r) => r.connection !== undefined);
  const byConnection = new Map<number, string[]>();
  for (const r of records)
    byConnection.set(r.connection!, [...(byConnection.get(r.connection!) ?? []), r.event]);
  const shapes = [...byConnection.values()].map((events) => events.join(' > '));
  const complete = shapes.filter((s) => s === 'connection-accepted > subscribe-denied > disconnected').length;
  report('audit of 60 short-lived clients', {
    connections: byConnection.size,
    complete,
    shapes: [...new Set(shapes)],
  });
  expect(byConnection.size).toBe(60);
  expect(shapes.every((s) => s.startsWith('connection-accepted') && s.endsWith('disconnected'))).toBe(true);
  expect(shapes.every((s) => s.split('disconnected').length === 2)).toBe(true); // exactly one
  // A SUBSCRIBE aedes got to (the socket may close first) is denied — and recorded after the acceptance.
  expect(
    shapes.every(
      (s) =>
        s === 'connection-accepted > subscribe-denied > disconnected' ||
        s === 'connection-accepted > disconnected',
    ),
  ).toBe(true);
  expect(complete).toBeGreaterThan(0);
});

it('a verified connection that closes before CONNECT gets one disconnected record', async () => {
  const broker = await startChildBroker(pki.stateDir, ['--quiet'], cleanups);
  const peer = await rawPeer(broker.port, await credentialsOf(pki.stateDir, 'sensor-001'), cleanups);
  peer.socket.end();
  await Promise.race([peer.closed, sleep(3000)]);
  const record = await broker.waitForAudit((r) => r.event === 'disconnected', 'the disconnect');
  expect(record).toMatchObject({ reason: 'CLIENT_CLOSED', cn: 'sensor-001' });
  expect(record.detail).toMatch(/before any MQTT CONNECT/);
  await sleep(300);
  expect((await broker.audit()).filter((r) => r.connection === record.connection)).toHaveLength(1);
});

it('each acceptance is in the audit file before its CONNACK reaches the client', async () => {
  const broker = await startChildBroker(
    pki.stateDir,
    ['--quiet', '--connection-rate-per-identity', '0'],
    cleanups,
  );
  const credentials = await credentialsOf(pki.stateDir, 'sensor-001');
  const acceptedInFile = () =>
    readFileSync(broker.auditFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"event":"connection-accepted"')).length;
  const seenAtConnack: number[] = [];
  for (let i = 0; i < 20; i++) {
    const peer = await rawPeer(broker.port, credentials, cleanups);
    // Read the file the moment the first bytes after CONNECT (the CONNACK) arrive, before anything else runs here.
    const atConnack = new Promise<number>((done) =>
      peer.socket.prependOnceListener('data', () => done(acceptedInFile())),
    );
    peer.socket.write(connect('sensor-001'));
    seenAtConnack.push(await atConnack);
    expect(await peer.next('connack')).toMatchObject({ returnCode: 0 });
    peer.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  }
  expect(seenAtConnack).toEqual(seenAtConnack.map((_, i) => i + 1));
});
