/**
 * QoS 2 queued for a persistent session while it is away arrives exactly once, in order, when it resumes — through
 * our broker (in-memory persistence) over real TLS. aedes-persistence's memory store mixed up the PUBRELs of the
 * replayed messages (broker/pubrel-store.ts): over plain TCP MQTT.js got 19 of 20, the first never released; here
 * over TLS, without the fix, all 20 came and the last one AGAIN at the next connection (its PUBLISH was left in the
 * store) — at a resume and online alike (20 in flight at once). Each case checks the next connection gets nothing.
 * Peers: MQTT.js 3.1.1 and mosquitto_sub (-c -q 2), a publisher on MQTT.js.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { showIdentity } from '../../pki/index.ts';
import {
  type BrokerFixture,
  connectAs,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
} from '../helpers/broker-fixture.ts';
import { runPeer } from '../helpers/broker-peers.ts';
import { connectTo, startNode } from '../helpers/cluster-nodes.ts';
import { sleep } from '../helpers/fault-broker.ts';
import { startRedis } from '../helpers/redis-server.ts';

const COUNT = 20;
const PAYLOADS = Array.from({ length: COUNT }, (_, i) => `m${i}`);
let pki: PkiFixture;
let fixture: BrokerFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['q2-sub', 'q2-mosq', 'q2-live', 'q2-pub', 'sensor-201'] });
  cleanups.push(() => pki.cleanup());
  const policyFile = join(pki.stateDir, 'q2-policy.yaml');
  await writeFile(
    policyFile,
    `version: 1\nidentities:\n  - cn: "q2-*"\n    publish: ["q2/#"]\n    subscribe: ["q2/#"]\n`,
  );
  fixture = await startTestBroker(pki.stateDir, { policyFile }, cleanups);
});
afterAll(() => runCleanups(cleanups));

/** Publishes PAYLOADS at QoS 2 on `topic`: each acknowledged (PUBCOMP) before the next, or all at once. */
async function publishAll(topic: string, together = false) {
  const { client, connected } = await connectAs(fixture.broker, pki.stateDir, 'q2-pub', {}, cleanups);
  expect(connected).toBe(true);
  if (together) await Promise.all(PAYLOADS.map((payload) => client.publishAsync(topic, payload, { qos: 2 })));
  else for (const payload of PAYLOADS) await client.publishAsync(topic, payload, { qos: 2 });
  await client.endAsync();
}

/** Waits until `received` holds COUNT messages (5 s cap), then a little longer: a duplicate would come right after. */
async function settle(received: string[]) {
  const deadline = Date.now() + 5000;
  while (received.length < COUNT && Date.now() < deadline) await sleep(20);
  await sleep(200);
}

/** Connects `id` again with its persistent session: everything was released and completed, so nothing may come. */
async function expectNothingQueued(id: string, session: { clean: boolean }) {
  const again = await connectAs(fixture.broker, pki.stateDir, id, session, cleanups);
  const redelivered: string[] = [];
  again.client.on('message', (_topic, payload) => redelivered.push(payload.toString()));
  expect(again.connected).toBe(true);
  await sleep(500);
  expect(redelivered).toEqual([]);
  await again.client.endAsync();
}

it(`MQTT.js: ${COUNT} QoS 2 messages queued while away arrive once each, in order, at the resume`, async () => {
  const session = { clean: false };
  const first = await connectAs(fixture.broker, pki.stateDir, 'q2-sub', session, cleanups);
  expect(first.connected).toBe(true);
  const granted = await first.client.subscribeAsync('q2/sub', { qos: 2 });
  expect(granted[0]?.qos).toBe(2);
  await first.client.endAsync();

  await publishAll('q2/sub');

  const received: string[] = [];
  const errors: string[] = [];
  const resumed = await connectAs(fixture.broker, pki.stateDir, 'q2-sub', session, cleanups);
  resumed.client.on('message', (_topic, payload) => received.push(payload.toString()));
  resumed.client.on('error', (error) => errors.push(error.message));
  expect(resumed.connected).toBe(true);
  await settle(received);
  expect(received).toEqual(PAYLOADS);
  expect(errors).toEqual([]);
  expect(resumed.client.connected).toBe(true); // aedes drops a session on 'no such packet'
  await resumed.client.endAsync();

  await expectNothingQueued('q2-sub', session);
});

it(`mosquitto_sub -c -q 2: ${COUNT} QoS 2 messages queued while away arrive once each, in order`, async () => {
  const info = await showIdentity(pki.stateDir, 'q2-mosq');
  const sub = (extra: string[]) =>
    runPeer(
      'mosquitto_sub',
      [
        ...['-h', '127.0.0.1', '-p', String(fixture.broker.port), '-V', 'mqttv311'],
        ...['--cafile', info.paths.ca, '--cert', info.paths.chain, '--key', info.paths.key],
        ...['-c', '-i', 'q2-mosq', '-q', '2', '-t', 'q2/mosq', ...extra],
      ],
      { timeoutMs: 15_000 },
    ).done;
  const subscribed = await sub(['-E']); // subscribe, then leave the session behind
  expect(subscribed.status, subscribed.stderr).toBe(0);

  await publishAll('q2/mosq');

  // -C: exit after COUNT messages; -W 5: give up (exit 27) if they do not all come
  const resumed = await sub(['-C', String(COUNT), '-W', '5']);
  expect(resumed.stderr).toBe('');
  expect(resumed.stdout.trim().split('\n')).toEqual(PAYLOADS);
  expect(resumed.status).toBe(0);

  // all completed: a third connection gets nothing (-W 1 ends it after a second of silence)
  const again = await sub(['-W', '1']);
  expect(again.stdout).toBe('');
});

it(`MQTT.js online: ${COUNT} QoS 2 messages published together arrive once each, and none again at the next connection`, async () => {
  const session = { clean: false };
  const online = await connectAs(fixture.broker, pki.stateDir, 'q2-live', session, cleanups);
  expect(online.connected).toBe(true);
  await online.client.subscribeAsync('q2/live', { qos: 2 });
  const received: string[] = [];
  online.client.on('message', (_topic, payload) => received.push(payload.toString()));

  await publishAll('q2/live', true);
  await settle(received);
  expect([...received].sort()).toEqual([...PAYLOADS].sort()); // in flight together: once each
  await online.client.endAsync();

  // the PUBRECs crossed the PUBRELs: each release must have completed its own message in the session's store
  await expectNothingQueued('q2-live', session);
});

it(`a node on Redis (pubrel-store.ts is not installed there): ${COUNT} queued QoS 2 arrive once, in order, none again`, async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const node = await startNode(pki.stateDir, redis.url, 'q2-node', cleanups);
  const topic = 'devices/sensor-201/commands/q2';
  const session = { clean: false, reconnectPeriod: 0 };
  const first = await connectTo(node.port, pki.stateDir, 'sensor-201', session, cleanups);
  await first.subscribeAsync('devices/sensor-201/commands/#', { qos: 2 });
  await first.endAsync();
  const dashboard = await connectTo(node.port, pki.stateDir, 'dashboard', { reconnectPeriod: 0 }, cleanups);
  for (const payload of PAYLOADS) await dashboard.publishAsync(topic, payload, { qos: 2 });

  const received: string[] = [];
  const resumed = await connectTo(node.port, pki.stateDir, 'sensor-201', session, cleanups, (client) =>
    client.on('message', (_topic, payload) => received.push(payload.toString())),
  );
  await settle(received);
  expect(received).toEqual(PAYLOADS);
  await resumed.endAsync();

  const redelivered: string[] = [];
  const again = await connectTo(node.port, pki.stateDir, 'sensor-201', session, cleanups, (client) =>
    client.on('message', (_topic, payload) => redelivered.push(payload.toString())),
  );
  await sleep(500);
  expect(redelivered).toEqual([]);
  await again.endAsync();
}, 60_000);
