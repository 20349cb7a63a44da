/**
 * pubrel-store.ts on a real aedes with its in-memory persistence, over a real socket (no TLS, so the resume's
 * PUBRECs arrive back to back: the loss shows; through the broker over TLS it shows as a duplicate at the next
 * resume, test/integration/broker-qos2-resume.test.ts). Without the fix: MQTT.js got 19 of 20 (the first message's
 * PUBREL went out with the second's id), and the raw client's second PUBREL was "no such packet".
 */
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { createServer, Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { keepPubrelsApart } from '../../broker/pubrel-store.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PAYLOADS = Array.from({ length: 20 }, (_, i) => `m${i}`);

/** aedes in memory with the fix, on a loopback port; `errors` collects its clientErrors. */
async function fixedBroker() {
  const broker = await Aedes.createBroker();
  cleanups.push(() => new Promise<void>((resolve) => broker.close(() => resolve())));
  keepPubrelsApart(broker);
  const errors: string[] = [];
  broker.on('clientError', (_client, error) => errors.push(error.message));
  const server = createServer((socket) => broker.handle(socket));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const publishAll = async () => {
    for (const payload of PAYLOADS) {
      await new Promise<void>((resolve) =>
        broker.publish(
          {
            cmd: 'publish',
            topic: 'cmd/x',
            payload: Buffer.from(payload),
            qos: 2,
            retain: false,
            dup: false,
          },
          () => resolve(),
        ),
      );
    }
  };
  return { port, errors, publishAll };
}

it('MQTT.js resuming with 20 queued QoS 2 messages gets each once, in order; nothing is left queued', async () => {
  const { port, errors, publishAll } = await fixedBroker();
  const options = { clientId: 'device', clean: false, reconnectPeriod: 0, protocolVersion: 4 as const };
  const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, options);
  await first.subscribeAsync('cmd/#', { qos: 2 });
  await first.endAsync();
  await publishAll();

  const received: string[] = [];
  const resumed = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, options);
  cleanups.push(() => void resumed.end(true));
  resumed.on('message', (_topic, payload) => received.push(payload.toString()));
  const deadline = Date.now() + 5000;
  while (received.length < PAYLOADS.length && Date.now() < deadline) await sleep(10);
  await sleep(100);
  expect(received).toEqual(PAYLOADS);
  await resumed.endAsync();

  const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, options);
  cleanups.push(() => void again.end(true));
  const redelivered: string[] = [];
  again.on('message', (_topic, payload) => redelivered.push(payload.toString()));
  await sleep(300);
  expect(redelivered).toEqual([]);
  expect(errors).toEqual([]);
});

/** A raw MQTT 3.1.1 connection as `device` (clean 0): PUBRECs every QoS 2 PUBLISH; PUBCOMPs PUBRELs if told. */
async function rawDevice(port: number, pubcomp: boolean) {
  const socket = new Socket();
  cleanups.push(() => void socket.destroy());
  const received: Packet[] = [];
  const parser = mqttPacket.parser();
  const send = (packet: object) => socket.write(mqttPacket.generate(packet as Packet));
  parser.on('packet', (packet) => {
    received.push(packet);
    if (packet.cmd === 'publish' && packet.qos === 2) send({ cmd: 'pubrec', messageId: packet.messageId });
    if (packet.cmd === 'pubrel' && pubcomp) send({ cmd: 'pubcomp', messageId: packet.messageId });
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
  send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'device',
    clean: false,
    keepalive: 0,
  });
  const count = (cmd: string) => received.filter((p) => p.cmd === cmd).length;
  const until = async (cmd: string, n: number) => {
    const deadline = Date.now() + 5000;
    while (count(cmd) < n && Date.now() < deadline) await sleep(5);
  };
  const leave = async () => {
    send({ cmd: 'disconnect' });
    await closed;
  };
  return { received, send, until, leave };
}

it('PUBRELs stored for a session that left before its PUBCOMPs are each resent once, under their own ids', async () => {
  const { port, errors, publishAll } = await fixedBroker();
  const setup = await rawDevice(port, false);
  setup.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cmd/#', qos: 2 }] });
  await setup.until('suback', 1);
  await setup.leave();
  await publishAll();

  // takes the messages, PUBRECs them, gets the PUBRELs, and leaves without completing
  const recording = await rawDevice(port, false);
  await recording.until('pubrel', PAYLOADS.length);
  const published = recording.received.filter((p) => p.cmd === 'publish');
  expect(published.map((p) => p.payload.toString())).toEqual(PAYLOADS);
  const ids = published.map((p) => p.messageId);
  const released = recording.received.filter((p) => p.cmd === 'pubrel').map((p) => p.messageId);
  expect(released).toEqual(ids); // each message's own id, once
  await recording.leave();

  // the next resume: only the PUBRELs again, the same ids, in order; completing them empties the session
  const completing = await rawDevice(port, true);
  await completing.until('pubrel', PAYLOADS.length);
  await sleep(100);
  expect(completing.received.filter((p) => p.cmd === 'publish')).toEqual([]);
  expect(completing.received.filter((p) => p.cmd === 'pubrel').map((p) => p.messageId)).toEqual(ids);
  await completing.leave();

  const last = await rawDevice(port, true);
  await last.until('connack', 1);
  await sleep(200);
  expect(last.received.map((p) => p.cmd)).toEqual(['connack']);
  expect(errors).toEqual([]);
});
