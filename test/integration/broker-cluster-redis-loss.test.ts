/**
 * Redis goes away under a running two-node cluster and comes back (AOF on, restarted on the same port): while it
 * is gone each node refuses new sessions with CONNACK 3 and says why in its audit; afterwards both nodes are back,
 * and every QoS 1 message a publisher had acknowledged reaches the persistent subscriber.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type PkiFixture, runCleanups } from '../helpers/broker-fixture.ts';
import { connectTo, startNode, type TestNode } from '../helpers/cluster-nodes.ts';
import { startRedis, type TestRedis } from '../helpers/redis-server.ts';

let pki: PkiFixture;
let redis: TestRedis;
let nodeA: TestNode;
let nodeB: TestNode;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002'] });
  cleanups.push(() => pki.cleanup());
  redis = await startRedis();
  cleanups.push(() => redis.stop());
  [nodeA, nodeB] = await Promise.all([
    startNode(pki.stateDir, redis.url, 'node-a', cleanups),
    startNode(pki.stateDir, redis.url, 'node-b', cleanups),
  ]);
});
afterAll(() => runCleanups(cleanups));

describe('a cluster whose Redis restarts', () => {
  it('refuses new sessions while Redis is gone, reconnects, and loses no acknowledged QoS 1 message', async () => {
    const persistent = { clean: false, reconnectPeriod: 0 };
    const topic = 'devices/sensor-001/telemetry';
    const received = new Set<string>();
    const listen = (client: MqttClient) =>
      client.on('message', (_t, payload) => received.add(payload.toString()));
    const subscriber = await connectTo(nodeB.port, pki.stateDir, 'dashboard', persistent, cleanups, listen);
    await subscriber.subscribeAsync(topic, { qos: 1 });
    const publisher = await connectTo(
      nodeA.port,
      pki.stateDir,
      'sensor-001',
      { clean: false, reconnectPeriod: 200 },
      cleanups,
    );

    const acknowledged: string[] = [];
    let index = 0;
    const publishUntil = async (count: number) => {
      for (; index < count; index++) {
        const payload = `reading-${index}`;
        await publisher.publishAsync(topic, payload, { qos: 1 });
        acknowledged.push(payload);
      }
    };
    await publishUntil(100);

    await redis.halt('SIGTERM'); // a clean shutdown: the AOF has everything Redis acknowledged
    const publishing = publishUntil(200); // goes on while Redis is away
    const detached = await nodeA.waitForAudit((r) => r.event === 'cluster-detached', 'node A losing Redis');
    expect(detached).toMatchObject({ node: 'node-a', reason: 'CLUSTER_UNAVAILABLE' });
    await nodeB.waitForAudit((r) => r.event === 'cluster-detached', 'node B losing Redis');

    const refused = connectTo(nodeA.port, pki.stateDir, 'sensor-002', { reconnectPeriod: 0 }, cleanups);
    await expect(refused).rejects.toMatchObject({ code: 3 }); // CONNACK 3: server unavailable
    const record = await nodeA.waitForAudit(
      (r) => r.event === 'connect-refused' && r.cn === 'sensor-002',
      'the refusal of sensor-002',
    );
    expect(record).toMatchObject({ reason: 'CLUSTER_UNAVAILABLE', node: 'node-a' });
    expect(record.detail).toMatch(/Redis/);

    await redis.resume();
    for (const node of [nodeA, nodeB]) {
      await node.waitForAudit((r) => r.event === 'cluster-attached', `${node.id} back on Redis`);
    }
    await publishing;
    await publishUntil(300);
    await connectTo(nodeA.port, pki.stateDir, 'sensor-002', { reconnectPeriod: 0 }, cleanups); // admitted again

    // What the live path missed while the bus was down is in the subscriber's queue: reconnect to drain it.
    await subscriber.endAsync();
    await connectTo(nodeB.port, pki.stateDir, 'dashboard', persistent, cleanups, listen);
    const deadline = Date.now() + 20_000;
    while (acknowledged.some((p) => !received.has(p)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(acknowledged).toHaveLength(300);
    expect(acknowledged.filter((p) => !received.has(p))).toEqual([]);
    // The publisher reconnects by itself: it must not outlive this test (a CONNACK it waits for during the next
    // test's outage would fail that one).
    await publisher.endAsync(true);
  }, 120_000);

  it('a SUBSCRIBE made while Redis is gone is granted when it returns and holds on every node', async () => {
    const persistent = { clean: false, reconnectPeriod: 0 };
    const step = <T>(what: string, promise: Promise<T>) =>
      promise.catch((error: Error) => {
        throw new Error(`${what}: ${error.message}`);
      });
    const device = await step(
      'sensor-002 first CONNECT',
      connectTo(nodeA.port, pki.stateDir, 'sensor-002', persistent, cleanups),
    );
    const haltedAt = new Date().toISOString();
    await redis.halt('SIGTERM');
    for (const node of [nodeA, nodeB])
      await node.waitForAudit(
        (r) => r.event === 'cluster-detached' && r.ts >= haltedAt,
        `${node.id} detached`,
      );
    const subscribed = device.subscribeAsync('devices/sensor-002/commands/#', { qos: 1 }); // waits for Redis
    await redis.resume();
    for (const node of [nodeA, nodeB]) {
      const back = await node.waitForAudit(
        (r) => r.event === 'cluster-attached' && r.ts >= haltedAt,
        `${node.id} back on Redis`,
      );
      expect(back.detail).toMatch(/re-read the subscriptions of \d+ persistent session/);
    }
    const granted = await Promise.race([
      subscribed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no SUBACK 15 s after Redis returned')), 15_000),
      ),
    ]);
    expect(granted[0]).toMatchObject({ topic: 'devices/sensor-002/commands/#', qos: 1 });
    await device.endAsync();

    // Published through the other node while the session is offline: queued there, delivered when it returns.
    const sender = await step(
      'dashboard CONNECT on B',
      connectTo(nodeB.port, pki.stateDir, 'dashboard', { reconnectPeriod: 0 }, cleanups),
    );
    const commands = Array.from({ length: 100 }, (_, i) => `command-${i}`);
    await Promise.all(
      commands.map((c) => sender.publishAsync('devices/sensor-002/commands/set', c, { qos: 1 })),
    );
    const received = new Set<string>();
    await step(
      'sensor-002 resuming CONNECT',
      connectTo(nodeA.port, pki.stateDir, 'sensor-002', persistent, cleanups, (client) =>
        client.on('message', (_t, payload) => received.add(payload.toString())),
      ),
    );
    const deadline = Date.now() + 20_000;
    while (received.size < commands.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(commands.filter((c) => !received.has(c))).toEqual([]);
  }, 120_000);
});
