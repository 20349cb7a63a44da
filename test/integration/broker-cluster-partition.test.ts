/**
 * One node cut off from Redis while the rest of the cluster keeps it (a network partition, made with a TCP relay in
 * front of Redis for node B only): a persistent session subscribes on node A meanwhile — node B never hears of it.
 * When B is back, it re-reads every persistent subscription from Redis, so QoS 1 messages published through B for
 * that session while it is offline are queued, and delivered when it returns: none lost.
 */
import { rm, cp } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type PkiFixture, runCleanups } from '../helpers/broker-fixture.ts';
import { connectTo, startNode, type TestNode } from '../helpers/cluster-nodes.ts';
import { startRedis, type TestRedis } from '../helpers/redis-server.ts';
import { startPartition, type TcpPartition } from '../helpers/tcp-partition.ts';

let pki: PkiFixture;
let stateA: string;
let stateB: string;
let redis: TestRedis;
let partition: TcpPartition;
let nodeA: TestNode;
let nodeB: TestNode;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'] });
  cleanups.push(() => pki.cleanup());
  stateA = pki.stateDir;
  stateB = `${pki.stateDir}-node-b`;
  await cp(stateA, stateB, { recursive: true });
  cleanups.push(() => rm(stateB, { recursive: true, force: true }));
  redis = await startRedis();
  cleanups.push(() => redis.stop());
  partition = await startPartition(redis.port);
  cleanups.push(() => partition.close());
  [nodeA, nodeB] = await Promise.all([
    startNode(stateA, redis.url, 'node-a', cleanups),
    startNode(stateB, `redis://127.0.0.1:${partition.port}`, 'node-b', cleanups),
  ]);
}, 60_000);
afterAll(() => runCleanups(cleanups));

describe('a node partitioned from Redis', () => {
  it('re-reads the subscriptions it missed: QoS 1 published through it for an offline session is all delivered', async () => {
    const persistent = { clean: false, reconnectPeriod: 0 };
    const device = await connectTo(nodeA.port, stateA, 'sensor-001', persistent, cleanups);

    await partition.cut();
    await nodeB.waitForAudit((r) => r.event === 'cluster-detached', 'node B cut off from Redis');
    // Node A has Redis: the subscription is stored and announced — to every node but B.
    await device.subscribeAsync('devices/sensor-001/commands/#', { qos: 1 });
    await device.endAsync();

    await partition.heal();
    const back = await nodeB.waitForAudit((r) => r.event === 'cluster-attached', 'node B back on Redis');
    expect(back.detail).toMatch(/re-read the subscriptions of 1 persistent session/);

    const dashboard = await connectTo(nodeB.port, stateB, 'dashboard', { reconnectPeriod: 0 }, cleanups);
    const commands = Array.from({ length: 100 }, (_, i) => `command-${i}`);
    await Promise.all(
      commands.map((c) => dashboard.publishAsync('devices/sensor-001/commands/set', c, { qos: 1 })),
    );

    const received = new Set<string>();
    // The first resume must get its CONNACK, though the commands are still arriving on node A as it resumes: B acks
    // a QoS 1 PUBLISH before it queues and relays it (broker-connack-first.test.ts covers that window on purpose).
    const resumed = await connectTo(nodeA.port, stateA, 'sensor-001', persistent, cleanups, (client) =>
      client.on('message', (_topic, payload) => received.add(payload.toString())),
    );
    const deadline = Date.now() + 20_000;
    while (received.size < commands.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(commands.filter((c) => !received.has(c))).toEqual([]);
    expect(resumed.connected).toBe(true);
  }, 90_000);
});
