/**
 * N publishers → 1 subscriber through the broker, 128-byte payloads, QoS 0 or 1. Saturating mode keeps at most
 * `window` messages per publisher between publish and delivery (closed loop: the broker sets the pace and nothing
 * piles up in a queue that could drop); paced mode sends `ratePerSecond` in total. Each payload carries its send
 * time; the subscriber, in the same process, measures end-to-end latency.
 */
import tls from 'node:tls';
import type { LoadIdentity } from '../lib/bench-pki.ts';
import { percentile, Reservoir } from '../lib/stats.ts';
import { emit, readParams, secureContexts, sleep } from './common.ts';
import {
  connectPacket,
  PacketReader,
  PacketType,
  type Packet,
  PublishTemplate,
  parsePublish,
  pubackPacket,
  subscribePacket,
} from './mqtt-wire.ts';

export interface ThroughputParams {
  port: number;
  ca: string;
  publishers: LoadIdentity[];
  subscriber: LoadIdentity;
  qos: 0 | 1;
  payloadSize: number;
  warmupMs: number;
  durationMs: number;
  /** Saturating mode: messages in flight per publisher. */
  window: number;
  /** Paced mode when set: messages per second over all publishers. */
  ratePerSecond?: number;
}

export interface ThroughputResult {
  event: 'result';
  messages: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
  loadgenCpuSeconds: number;
}

const params = readParams<ThroughputParams>();
const SUBSCRIPTION = 'devices/+/telemetry';

interface Connection {
  socket: tls.TLSSocket;
  onPacket: (packet: Packet) => void;
}

async function open(context: tls.SecureContext, clientId: string): Promise<Connection> {
  const connection: Connection = { socket: undefined as unknown as tls.TLSSocket, onPacket: () => {} };
  await new Promise<void>((done, fail) => {
    const socket = tls.connect({ host: '127.0.0.1', port: params.port, secureContext: context });
    connection.socket = socket;
    socket.setNoDelay(true);
    const reader = new PacketReader((packet) => connection.onPacket(packet));
    connection.onPacket = (packet) => {
      if (packet.type !== PacketType.CONNACK) return;
      if (packet.body[1] !== 0) fail(new Error(`${clientId}: CONNACK ${packet.body[1]}`));
      else done();
    };
    socket.once('secureConnect', () => socket.write(connectPacket(clientId, 600)));
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.once('error', fail);
    socket.once('close', () => fail(new Error(`${clientId}: closed`)));
  });
  return connection;
}

const contexts = secureContexts(params.ca, [params.subscriber, ...params.publishers]);
const subscriber = await open(contexts[0]!, params.subscriber.clientId);
await new Promise<void>((done, fail) => {
  subscriber.onPacket = (packet) => {
    if (packet.type !== PacketType.SUBACK) return;
    if (packet.body[2] === 0x80) fail(new Error(`SUBACK 0x80 for ${SUBSCRIPTION}`));
    else done();
  };
  subscriber.socket.write(subscribePacket(1, SUBSCRIPTION, params.qos));
});

interface Publisher {
  connection: Connection;
  template: PublishTemplate;
  index: number;
  sent: number;
  delivered: number;
  nextId: number;
}

const publishers: Publisher[] = [];
for (const [index, identity] of params.publishers.entries()) {
  const connection = await open(contexts[index + 1]!, identity.clientId);
  connection.onPacket = () => {}; // PUBACKs from the broker (QoS 1): nothing to do
  const template = new PublishTemplate(
    `devices/${identity.clientId}/telemetry`,
    params.payloadSize,
    params.qos,
  );
  publishers.push({ connection, template, index, sent: 0, delivered: 0, nextId: 1 });
}

function publish(publisher: Publisher, count: number): void {
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const id = publisher.nextId;
    publisher.nextId = id === 65_535 ? 1 : id + 1;
    packets.push(
      publisher.template.make(id, (payload) => {
        payload.writeDoubleLE(performance.now(), 0);
        payload.writeUInt32LE(publisher.index, 8);
      }),
    );
  }
  publisher.sent += count;
  publisher.connection.socket.write(packets.length === 1 ? packets[0]! : Buffer.concat(packets));
}

function topUp(publisher: Publisher): void {
  const inFlight = publisher.sent - publisher.delivered;
  if (inFlight <= params.window / 2) publish(publisher, params.window - inFlight);
}

let measuring = false;
let received = 0;
let lost = 0;
let lastDelivery = performance.now();
const latencies = new Reservoir();
const paced = params.ratePerSecond !== undefined;

subscriber.onPacket = (packet) => {
  if (packet.type !== PacketType.PUBLISH) return;
  const { packetId, payload } = parsePublish(packet);
  const now = performance.now();
  lastDelivery = now;
  if (measuring) {
    received++;
    latencies.add(now - payload.readDoubleLE(0));
  }
  if (packetId !== 0) pendingAcks.push(pubackPacket(packetId));
  const publisher = publishers[payload.readUInt32LE(8)];
  if (!publisher) return;
  publisher.delivered++;
  if (!paced) topUp(publisher);
};
const pendingAcks: Buffer[] = [];
subscriber.socket.prependListener('data', () => {
  queueMicrotask(() => {
    if (pendingAcks.length === 0) return;
    subscriber.socket.write(Buffer.concat(pendingAcks.splice(0)));
  });
});

// A window whose messages never arrive (dropped by a broker) would stall a publisher: count them as lost.
const stallCheck = setInterval(() => {
  if (performance.now() - lastDelivery < 1000) return;
  for (const publisher of publishers) {
    lost += publisher.sent - publisher.delivered;
    publisher.delivered = publisher.sent;
    if (!paced) topUp(publisher);
  }
}, 500);

let pacer: NodeJS.Timeout | undefined;
if (paced) {
  const perTickPerPublisher = (params.ratePerSecond! / publishers.length) * 0.01;
  let credit = 0;
  pacer = setInterval(() => {
    credit += perTickPerPublisher;
    const whole = Math.floor(credit);
    credit -= whole;
    if (whole > 0) for (const publisher of publishers) publish(publisher, whole);
  }, 10);
} else {
  for (const publisher of publishers) topUp(publisher);
}

await sleep(params.warmupMs);
const cpuBefore = process.cpuUsage();
const windowStart = performance.now();
measuring = true;
emit({ event: 'measuring' });
await sleep(params.durationMs);
measuring = false;
const seconds = (performance.now() - windowStart) / 1000;
const cpu = process.cpuUsage(cpuBefore);
emit({ event: 'measured' });
clearInterval(stallCheck);
if (pacer) clearInterval(pacer);
const result: ThroughputResult = {
  event: 'result',
  messages: received,
  seconds,
  perSecond: received / seconds,
  p50Ms: percentile(latencies.samples, 50),
  p99Ms: percentile(latencies.samples, 99),
  lost,
  loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
};
emit(result);
process.exit(0);
