/**
 * MQTT 5 on the broker: refusals that carry a reason code and a Reason String (CONNACK, DISCONNECT, PUBACK),
 * with MQTT.js and Mosquitto's own client as peers; and the conformance defaults for both protocol versions
 * (keepalive, empty client ids, '$' topics).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type IConnackPacket, type IDisconnectPacket, type Packet } from 'mqtt-packet';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_TOPIC } from '../../broker/audit-record.ts';
import { issueIdentities, revokeIdentity, showIdentity } from '../../pki/index.ts';
import {
  type BrokerFixture,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
  tlsOptionsFor,
} from '../helpers/broker-fixture.ts';
import { runPeer } from '../helpers/broker-peers.ts';

let pki: PkiFixture;
let fixture: BrokerFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002', 'sensor-003', 'sensor-004'] }, true);
  cleanups.push(() => pki.cleanup());
  fixture = await startTestBroker(pki.stateDir, { limits: { keepaliveLimit: 60 } }, cleanups);
});
afterAll(() => runCleanups(cleanups));

interface Session {
  client: MqttClient;
  /** The CONNACK, whatever its code. */
  connack: IConnackPacket | undefined;
  /** Every packet received, in order. */
  received: Packet[];
}

/** Connects as `id` and resolves once the CONNACK (any code) arrived, or the connection ended without one. */
async function open(id: string, options: IClientOptions = {}): Promise<Session> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${fixture.broker.port}`, {
    ...(await tlsOptionsFor(pki.stateDir, id)),
    clientId: id,
    protocolVersion: 5,
    ...options,
  });
  cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  client.on('error', () => {}); // refusals are asserted on the packets
  const received: Packet[] = [];
  client.on('packetreceive', (packet) => received.push(packet));
  const connack = await new Promise<IConnackPacket | undefined>((resolve) => {
    client.on('packetreceive', (packet) => packet.cmd === 'connack' && resolve(packet));
    client.once('close', () => resolve(undefined));
  });
  return { client, connack, received };
}

/** A CONNECT with an empty client id over TLS as `id`, written with mqtt-packet; resolves with the CONNACK. */
async function rawConnack(
  id: string,
  options: { protocolVersion: 4 | 5; clean: boolean },
): Promise<IConnackPacket> {
  const tlsOptions = await tlsOptionsFor(pki.stateDir, id);
  const socket = tls.connect({
    host: '127.0.0.1',
    port: fixture.broker.port,
    ca: tlsOptions.ca as Buffer,
    cert: tlsOptions.cert as Buffer,
    key: tlsOptions.key as Buffer,
    servername: 'localhost',
  });
  cleanups.push(async () => void socket.destroy());
  // mqtt-packet refuses to encode the 3.1.1 breach itself: encode it clean, then clear the Clean Session flag
  // (byte 9: fixed header 2, protocol name 6, level 1 — §3.1.2.2).
  const connect = mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    clientId: '',
    keepalive: 0,
    ...options,
    clean: true,
  });
  if (!options.clean) connect[9] = connect[9]! & ~0x02;
  socket.write(connect);
  const parser = mqttPacket.parser({ protocolVersion: options.protocolVersion });
  return new Promise((resolve, reject) => {
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') resolve(packet);
      socket.destroy();
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed without a CONNACK')));
  });
}

function waitForPacket<T extends Packet>(session: Session, cmd: T['cmd'], timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const found = session.received.find((p) => p.cmd === cmd);
    if (found) return resolve(found as T);
    const timer = setTimeout(() => reject(new Error(`no ${cmd} within ${timeoutMs} ms`)), timeoutMs);
    session.client.on('packetreceive', (packet) => {
      if (packet.cmd !== cmd) return;
      clearTimeout(timer);
      resolve(packet as T);
    });
  });
}

describe('CONNACK refusals say why', () => {
  it('an MQTT.js v5 client with an expired certificate gets 0x87 and the reason string', async () => {
    const { notAfter } = await showIdentity(pki.stateDir, 'rogue-expired');
    const session = await open('rogue-expired');
    expect(session.connack?.reasonCode).toBe(0x87);
    expect(session.connack?.properties?.reasonString).toBe(
      `EXPIRED: certificate expired ${new Date(notAfter).toISOString().slice(0, 10)}`,
    );
    const record = await fixture.waitFor((r) => r.event === 'handshake-refused' && r.cn === 'rogue-expired');
    expect(record.detail).toContain('MQTT: connack-0x87-sent');
  });

  it('a foreign CA → 0x87 "UNKNOWN_CA: …"', async () => {
    const session = await open('rogue-foreign-ca');
    expect(session.connack?.reasonCode).toBe(0x87);
    expect(session.connack?.properties?.reasonString).toMatch(/^UNKNOWN_CA: /);
  });

  it('a client id other than the CN → 0x87 "CLIENT_ID_MISMATCH: client id "x" ≠ CN "y""', async () => {
    const session = await open('sensor-001', { clientId: 'sensor-002' });
    expect(session.connack?.reasonCode).toBe(0x87);
    expect(session.connack?.properties?.reasonString).toBe(
      'CLIENT_ID_MISMATCH: client id "sensor-002" ≠ CN "sensor-001"',
    );
    const record = await fixture.waitFor((r) => r.event === 'connect-refused' && r.clientId === 'sensor-002');
    expect(record.reason).toBe('CLIENT_ID_MISMATCH');
  });

  it('MQTT 3.1.1 keeps return code 5, with no properties', async () => {
    const session = await open('sensor-001', { clientId: 'sensor-003', protocolVersion: 4 });
    expect(session.connack?.returnCode).toBe(5);
    expect(session.connack?.properties).toBeUndefined();
  });

  it('mosquitto_sub -V mqttv5 with an expired certificate stops at once, saying not authorised', async () => {
    const info = await showIdentity(pki.stateDir, 'rogue-expired');
    const started = Date.now();
    const sub = await runPeer(
      'mosquitto_sub',
      [
        ...['-h', '127.0.0.1', '-p', String(fixture.broker.port), '-V', 'mqttv5'],
        ...['--cafile', info.paths.ca, '--cert', info.paths.chain, '--key', info.paths.key],
        ...['-i', 'rogue-expired', '-t', 'devices/rogue-expired/commands/#'],
      ],
      { timeoutMs: 15_000 },
    ).done;
    expect(sub.status).not.toBe(0); // not killed by the timeout (null), and not a success
    expect(sub.status).not.toBeNull();
    expect(sub.stderr).toMatch(/not authori[sz]ed/i);
    expect(Date.now() - started).toBeLessThan(10_000);
    const refusals = fixture.records.filter(
      (r) => r.event === 'handshake-refused' && r.clientId === 'rogue-expired' && r.detail?.includes('0x87'),
    );
    expect(refusals.length).toBeLessThanOrEqual(2); // this test's one (plus the MQTT.js test's): no retry loop
  });
});

describe('sessions the broker ends say why', () => {
  it('revocation → DISCONNECT 0x98 (administrative action) with "REVOKED: …"', async () => {
    const session = await open('sensor-004');
    expect(session.connack?.reasonCode).toBe(0);
    const { serial } = await showIdentity(pki.stateDir, 'sensor-004');
    const disconnect = waitForPacket<IDisconnectPacket>(session, 'disconnect', 20_000);
    await revokeIdentity(pki.stateDir, 'sensor-004');
    const packet = await disconnect;
    expect(packet.reasonCode).toBe(0x98);
    expect(packet.properties?.reasonString).toBe(`REVOKED: certificate serial ${serial} is revoked`);
  });
  it('expiry during the session → DISCONNECT 0x87 (not authorized) with "EXPIRED: …"', async () => {
    await issueIdentities(pki.stateDir, ['sensor-short'], { validityMs: 3_000 });
    const session = await open('sensor-short');
    expect(session.connack?.reasonCode).toBe(0);
    const packet = await waitForPacket<IDisconnectPacket>(session, 'disconnect', 15_000);
    expect(packet.reasonCode).toBe(0x87);
    expect(packet.properties?.reasonString).toMatch(/^EXPIRED: certificate expired \d{4}-\d{2}-\d{2}$/);
  });
});

describe('conformance defaults', () => {
  it('keepalive 0 is admitted (3.1.1 and 5)', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const session = await open('sensor-001', { keepalive: 0, protocolVersion });
      expect(session.connack?.reasonCode ?? session.connack?.returnCode).toBe(0);
      session.client.end(true);
    }
  });

  it('a keepalive beyond the limit: 3.1.1 refused (5), MQTT 5 answered with Server Keep Alive = the limit', async () => {
    const old = await open('sensor-001', { keepalive: 120, protocolVersion: 4 });
    expect(old.connack?.returnCode).toBe(5);
    const v5 = await open('sensor-001', { keepalive: 120 });
    expect(v5.connack?.reasonCode).toBe(0);
    expect(v5.connack?.properties?.serverKeepAlive).toBe(60);
    v5.client.end(true);
  });

  it('an empty client id: MQTT 5 gets one assigned; 3.1.1 only with a clean session, else CONNACK 2', async () => {
    // MQTT.js will not send an empty id without a clean session: these CONNECTs are written by hand
    const v5 = await rawConnack('sensor-002', { protocolVersion: 5, clean: false });
    expect(v5.reasonCode).toBe(0);
    expect(v5.properties?.assignedClientIdentifier).toMatch(/.+/); // [MQTT-3.2.2-16]
    const clean = await rawConnack('sensor-002', { protocolVersion: 4, clean: true });
    expect(clean.returnCode).toBe(0);
    const persistent = await rawConnack('sensor-002', { protocolVersion: 4, clean: false });
    expect(persistent.returnCode).toBe(2); // [MQTT-3.1.3-8]
  });

  it("a '$' topic publish is acknowledged and dropped (3.1.1 and 5), never delivered", async () => {
    const dashboard = await open('dashboard');
    const forged: string[] = [];
    dashboard.client.on('message', (_topic, payload) => {
      if (payload.toString().includes('forged')) forged.push(payload.toString());
    });
    await dashboard.client.subscribeAsync(AUDIT_TOPIC);
    const old = await open('sensor-003', { protocolVersion: 4 });
    await old.client.publishAsync(AUDIT_TOPIC, '{"event":"forged"}', { qos: 1 }); // PUBACK
    expect(old.client.connected).toBe(true);
    const v5 = await open('sensor-001');
    await v5.client.publishAsync('$SYS/x', 'forged', { qos: 1 }); // rejects on a PUBACK reason code ≥ 0x80
    expect(v5.client.connected).toBe(true);
    await fixture.waitFor((r) => r.event === 'publish-denied' && r.topic === '$SYS/x');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(forged).toEqual([]);
    expect(fixture.records.some((r) => (r.event as string) === 'forged')).toBe(false);
  });
});
