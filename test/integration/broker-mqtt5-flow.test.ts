/**
 * MQTT 5 flow control and sessions, which aedes 2.0.0-beta.1 announces or stores without doing: the broker's
 * Receive Maximum (DISCONNECT 0x93), the client's Receive Maximum and Maximum Packet Size, a Clean Start 0 resume
 * that gets its queued messages, Clean Start discarding unreleased QoS 2 messages, and delayed wills.
 * Peers: raw v5 packets (mqtt-packet) over real TLS, MQTT.js v5, mosquitto_pub -V mqttv5.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { showIdentity } from '../../pki/index.ts';
import {
  type BrokerFixture,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
  tlsOptionsFor,
} from '../helpers/broker-fixture.ts';
import { runPeer } from '../helpers/broker-peers.ts';
import { credentialsOf, sleep } from '../helpers/fault-broker.ts';

const IDS = ['flow-a', 'flow-b', 'flow-c'];
const WINDOW = 10; // the broker's Receive Maximum (maxInflightInbound)
let pki: PkiFixture;
let fixture: BrokerFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: IDS });
  cleanups.push(() => pki.cleanup());
  const policyFile = join(pki.stateDir, 'flow-policy.yaml');
  await writeFile(
    policyFile,
    `version: 1\nidentities:\n  - cn: "flow-*"\n    publish: ["flow/#"]\n    subscribe: ["flow/#"]\n`,
  );
  fixture = await startTestBroker(
    pki.stateDir,
    { policyFile, limits: { maxInflightInbound: WINDOW } },
    cleanups,
  );
});
afterAll(() => runCleanups(cleanups));

/** A raw MQTT 5 peer over TLS as `id`: sends any packet, collects every packet the broker sends. */
async function v5Peer(id: string, connect: Record<string, unknown> = {}) {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: fixture.broker.port,
    servername: 'localhost',
    ...(await credentialsOf(pki.stateDir, id)),
  });
  cleanups.push(async () => void socket.destroy());
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  parser.on('packet', (packet) => packets.push(packet));
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  socket.on('error', () => {});
  let closed = false;
  socket.once('close', () => {
    closed = true;
  });
  const send = (packet: Record<string, unknown>) =>
    socket.write(mqttPacket.generate(packet as unknown as Packet, { protocolVersion: 5 }));
  /** Waits until `count` packets of `cmd` arrived (or the connection closed, or 5 s passed); returns them. */
  const until = async (cmd: string, count = 1, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (packets.filter((p) => p.cmd === cmd).length < count && !closed && Date.now() < deadline) {
      await sleep(20);
    }
    return packets.filter((p) => p.cmd === cmd);
  };
  send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: id,
    clean: true,
    keepalive: 60,
    ...connect,
  });
  const [connack] = await until('connack');
  return { socket, packets, send, until, connack, isClosed: () => closed };
}

const qos2 = (messageId: number, payload = `m${messageId}`) => ({
  cmd: 'publish',
  topic: 'flow/in',
  payload,
  qos: 2,
  messageId,
  retain: false,
  dup: false,
});

async function v5Client(id: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${fixture.broker.port}`, {
    ...(await tlsOptionsFor(pki.stateDir, id)),
    clientId: id,
    protocolVersion: 5,
    ...options,
  });
  cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

it('a client past the Receive Maximum announced in CONNACK gets DISCONNECT 0x93; a PUBREL frees a slot', async () => {
  const peer = await v5Peer('flow-a');
  expect(peer.connack).toMatchObject({ reasonCode: 0, properties: { receiveMaximum: WINDOW } });
  for (let id = 1; id <= WINDOW; id++) peer.send(qos2(id));
  expect(await peer.until('pubrec', WINDOW)).toHaveLength(WINDOW);
  peer.send({ cmd: 'pubrel', messageId: 1 });
  expect(await peer.until('pubcomp')).toHaveLength(1);
  peer.send(qos2(3)); // a retransmission of one in flight takes no slot
  peer.send(qos2(WINDOW + 1)); // the slot freed by the PUBREL
  expect(await peer.until('pubrec', WINDOW + 2)).toHaveLength(WINDOW + 2);
  expect(peer.packets.some((p) => p.cmd === 'disconnect')).toBe(false);
  peer.send(qos2(WINDOW + 2)); // one past the window
  const [disconnect] = await peer.until('disconnect');
  expect(disconnect).toMatchObject({ reasonCode: 0x93 });
  expect((disconnect as { properties?: { reasonString?: string } }).properties?.reasonString).toMatch(
    /^LIMIT_EXCEEDED: more than 10 QoS 2 messages/,
  );
  expect(peer.packets.filter((p) => p.cmd === 'pubrec')).toHaveLength(WINDOW + 2); // none after it
  const record = await fixture.waitFor((r) => r.event === 'disconnected' && r.clientId === 'flow-a');
  expect(record.reason).toBe('LIMIT_EXCEEDED');
});

it('Clean Start discards QoS 2 messages left unreleased: a reused packet id is a new message', async () => {
  const subscriber = await v5Client('flow-c');
  await subscriber.subscribeAsync('flow/in', { qos: 1 });
  const received: string[] = [];
  subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
  const first = await v5Peer('flow-b');
  first.send(qos2(7, 'old'));
  await first.until('pubrec');
  first.socket.destroy(); // gone before its PUBREL
  const again = await v5Peer('flow-b'); // Clean Start
  again.send(qos2(7, 'new'));
  await again.until('pubrec');
  again.send({ cmd: 'pubrel', messageId: 7 });
  await again.until('pubcomp');
  for (let i = 0; i < 100 && received.length < 2; i++) await sleep(50);
  expect(received).toEqual(['old', 'new']);
});

it('a Clean Start 0 resume without a Session Expiry of its own gets the messages queued for it', async () => {
  const first = await v5Client('flow-a', { clean: true, properties: { sessionExpiryInterval: 300 } });
  await first.subscribeAsync('flow/queued', { qos: 1 });
  await first.endAsync();
  const published = await runPeer('mosquitto_pub', [
    ...['-h', '127.0.0.1', '-p', String(fixture.broker.port), '-V', 'mqttv5', '-i', 'flow-b'],
    ...(await mosquittoTls('flow-b')),
    ...['-t', 'flow/queued', '-q', '1', '-m', 'while you were away'],
  ]).done;
  expect(published.status, published.stderr).toBe(0);
  const resumed = mqtt.connect(`mqtts://127.0.0.1:${fixture.broker.port}`, {
    ...(await tlsOptionsFor(pki.stateDir, 'flow-a')),
    clientId: 'flow-a',
    protocolVersion: 5,
    clean: false, // Clean Start 0, Session Expiry absent (0)
  });
  cleanups.push(() => new Promise<void>((resolve) => resumed.end(true, {}, () => resolve())));
  const message = await new Promise<string>((resolve, reject) => {
    resumed.on('message', (_topic, payload) => resolve(payload.toString()));
    setTimeout(() => reject(new Error('no queued message within 5 s')), 5000);
  });
  expect(message).toBe('while you were away');
});

it("the client's Maximum Packet Size: a larger message is not sent to it, the next one is", async () => {
  const small = await v5Client('flow-c', { properties: { maximumPacketSize: 100 } });
  await small.subscribeAsync('flow/size', { qos: 1 });
  const received: number[] = [];
  small.on('message', (_topic, payload) => received.push(payload.length));
  const publisher = await v5Client('flow-b');
  for (const size of [40, 200, 41]) await publisher.publishAsync('flow/size', Buffer.alloc(size), { qos: 1 });
  for (let i = 0; i < 100 && received.length < 2; i++) await sleep(50);
  await sleep(200);
  expect(received).toEqual([40, 41]);
});

it("the client's Receive Maximum: no more unacknowledged QoS 1 messages than it allows, the next after a PUBACK", async () => {
  const peer = await v5Peer('flow-a', { properties: { receiveMaximum: 2 } });
  peer.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flow/window', qos: 1 }] });
  await peer.until('suback');
  const publisher = await v5Client('flow-b');
  for (const n of [1, 2, 3]) await publisher.publishAsync('flow/window', `${n}`, { qos: 1 });
  expect(await peer.until('publish', 2)).toHaveLength(2);
  await sleep(500);
  const held = peer.packets.filter((p) => p.cmd === 'publish');
  expect(held.map((p) => String((p as { payload: Buffer }).payload))).toEqual(['1', '2']);
  peer.send({ cmd: 'puback', messageId: (held[0] as { messageId: number }).messageId });
  const all = await peer.until('publish', 3);
  expect(all.map((p) => String((p as { payload: Buffer }).payload))).toEqual(['1', '2', '3']);
});

it('a delayed will is published after its delay, without the Will Delay Interval property', async () => {
  const watcher = await v5Client('flow-c');
  await watcher.subscribeAsync('flow/will', { qos: 1 });
  const packets: Packet[] = [];
  watcher.on('packetreceive', (packet) => packet.cmd === 'publish' && packets.push(packet));
  const dying = await v5Client('flow-a', {
    properties: { sessionExpiryInterval: 10 },
    will: {
      topic: 'flow/will',
      payload: Buffer.from('gone'),
      qos: 1,
      retain: false,
      properties: { willDelayInterval: 1 },
    },
  });
  const cut = Date.now();
  dying.stream.destroy(); // no DISCONNECT: the will is due
  for (let i = 0; i < 100 && packets.length === 0; i++) await sleep(50);
  expect(packets).toHaveLength(1);
  expect(Date.now() - cut).toBeGreaterThanOrEqual(900);
  expect(String((packets[0] as { payload: Buffer }).payload)).toBe('gone');
  expect((packets[0] as { properties?: object }).properties ?? {}).not.toHaveProperty('willDelayInterval');
});

async function mosquittoTls(id: string): Promise<string[]> {
  const info = await showIdentity(pki.stateDir, id);
  return ['--cafile', info.paths.ca, '--cert', info.paths.chain, '--key', info.paths.key];
}

it('a message matching two subscriptions arrives once, with both Subscription Identifiers', async () => {
  const client = await v5Client('flow-c');
  await client.subscribeAsync('flow/si', { qos: 1, properties: { subscriptionIdentifier: 2 } });
  await client.subscribeAsync('flow/si/#', { qos: 1, properties: { subscriptionIdentifier: 3 } });
  const packets: Packet[] = [];
  client.on('packetreceive', (packet) => packet.cmd === 'publish' && packets.push(packet));
  const publisher = await v5Client('flow-b');
  await publisher.publishAsync('flow/si', 'x', { qos: 1 });
  for (let i = 0; i < 100 && packets.length === 0; i++) await sleep(50);
  await sleep(200);
  expect(packets).toHaveLength(1);
  const ids = (packets[0] as { properties?: { subscriptionIdentifier?: number | number[] } }).properties
    ?.subscriptionIdentifier;
  expect([ids].flat().sort()).toEqual([2, 3]);
});

it('topic aliases towards a client that allows them: the topic once, then the alias alone; none to others', async () => {
  const aliased = await v5Peer('flow-a', { properties: { topicAliasMaximum: 2 } });
  const plain = await v5Peer('flow-c');
  for (const peer of [aliased, plain]) {
    peer.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flow/alias', qos: 1 }] });
    await peer.until('suback');
  }
  const publisher = await v5Client('flow-b');
  for (const n of [1, 2]) await publisher.publishAsync('flow/alias', `${n}`, { qos: 1 });
  const seen = (peer: typeof plain) =>
    peer.packets
      .filter((p) => p.cmd === 'publish')
      .map((p) => {
        const { topic, properties } = p as { topic: string; properties?: { topicAlias?: number } };
        return [topic, properties?.topicAlias];
      });
  await aliased.until('publish', 2);
  await plain.until('publish', 2);
  expect(seen(aliased)).toEqual([
    ['flow/alias', 1],
    ['', 1],
  ]);
  expect(seen(plain)).toEqual([
    ['flow/alias', undefined],
    ['flow/alias', undefined],
  ]);
});
