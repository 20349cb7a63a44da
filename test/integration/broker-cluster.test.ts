/**
 * Two broker nodes (`certfleet broker --redis`, separate processes with separate state directories — as on two
 * machines) on a real redis-server: messages cross nodes, a persistent session survives the SIGKILL of its node,
 * a revocation made next to one node cuts sessions on both, and a CRL bundle pushed into Redis by anyone but our
 * CAs is refused.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { cp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRL_CHANNEL } from '../../broker/cluster/crl-share.ts';
import { readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { SimulatedDevice } from '../../devices/device.ts';
import { planFleet } from '../../devices/plan.ts';
import { buildCrl } from '../../pki/crl.ts';
import { pkiLayout, revokeIdentity, showIdentity } from '../../pki/index.ts';
import { makePki, type PkiFixture, runCleanups } from '../helpers/broker-fixture.ts';
import { connectTo, startNode, type TestNode } from '../helpers/cluster-nodes.ts';
import { EventLog } from '../helpers/devices-fixture.ts';
import { startRedis, type TestRedis } from '../helpers/redis-server.ts';

let pki: PkiFixture;
let stateA: string;
let stateB: string;
let redis: TestRedis;
let nodeA: TestNode;
let nodeB: TestNode;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002', 'sensor-003', 'sensor-004'] });
  cleanups.push(() => pki.cleanup());
  stateA = pki.stateDir;
  stateB = `${pki.stateDir}-node-b`; // a copy: node B shares no file with node A, only Redis
  await cp(stateA, stateB, { recursive: true });
  cleanups.push(() =>
    import('node:fs/promises').then((fs) => fs.rm(stateB, { recursive: true, force: true })),
  );
  redis = await startRedis();
  cleanups.push(() => redis.stop());
  [nodeA, nodeB] = await Promise.all([
    startNode(stateA, redis.url, 'node-a', cleanups),
    startNode(stateB, redis.url, 'node-b', cleanups),
  ]);
});
afterAll(() => runCleanups(cleanups));

function collect(client: MqttClient) {
  const seen = new Map<string, number>();
  let duplicatesWithoutDup = 0;
  client.on('message', (_topic, payload, packet) => {
    const key = payload.toString();
    if (seen.has(key) && !packet.dup) duplicatesWithoutDup++;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  const until = async (count: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (seen.size < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  };
  return { seen, until, duplicates: () => duplicatesWithoutDup };
}

describe('a two-node cluster on Redis', () => {
  it('QoS 1 from a device on node A reaches a subscriber on node B, every message, and the audit once', async () => {
    const audit: AuditRecord[] = [];
    const dashboard = await connectTo(nodeB.port, stateB, 'dashboard', { reconnectPeriod: 0 }, cleanups);
    dashboard.on('message', (topic, payload) => {
      if (topic === '$SYS/certfleet/audit') audit.push(JSON.parse(payload.toString()) as AuditRecord);
    });
    const received = collect(dashboard);
    await dashboard.subscribeAsync(['devices/sensor-001/telemetry', '$SYS/certfleet/audit'], { qos: 1 });

    const device = await connectTo(nodeA.port, stateA, 'sensor-001', { reconnectPeriod: 0 }, cleanups);
    const sent = Array.from({ length: 200 }, (_, i) => `reading-${i}`);
    for (const payload of sent)
      await device.publishAsync('devices/sensor-001/telemetry', payload, { qos: 1 });
    await received.until(sent.length + 1, 10_000); // + the audit records are not in `seen`'s telemetry count
    const telemetry = [...received.seen.keys()].filter((k) => k.startsWith('reading-'));
    expect(new Set(telemetry)).toEqual(new Set(sent));
    expect(received.duplicates()).toBe(0);

    // node A's decision about the device reached the live feed on node B exactly once, with its node id
    const accepted = audit.filter((r) => r.event === 'connection-accepted' && r.cn === 'sensor-001');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.node).toBe('node-a');

    // client-id takeover across nodes: the same identity connecting on B ends its session on A
    const closedOnA = new Promise<void>((resolve) => device.once('close', () => resolve()));
    await connectTo(nodeB.port, stateB, 'sensor-001', { reconnectPeriod: 0 }, cleanups);
    await closedOnA;
  });

  it('a CRL bundle in Redis that our CAs did not sign is refused; a revocation cuts sessions on both nodes ≤ 1 s after node A reads it', async () => {
    const onA = await connectTo(nodeA.port, stateA, 'sensor-003', { reconnectPeriod: 0 }, cleanups);
    const onB = await connectTo(nodeB.port, stateB, 'sensor-004', { reconnectPeriod: 0 }, cleanups);
    const closedAt = (client: MqttClient) =>
      new Promise<number>((r) => client.once('close', () => r(Date.now())));
    const cutA = closedAt(onA);
    const cutB = closedAt(onB);
    const bus = new Redis(redis.port, '127.0.0.1');
    cleanups.push(async () => void bus.disconnect());

    // An attacker with Redis access and a device key "revokes" sensor-004: signed, but not by a CA of ours.
    const victim = await showIdentity(stateA, 'sensor-004');
    const mallory = await showIdentity(stateA, 'sensor-001');
    const forged = await buildCrl({
      issuerCertDer: new X509Certificate(await readFile(mallory.paths.cert)).raw,
      issuerPublicKey: new X509Certificate(await readFile(mallory.paths.cert)).publicKey,
      issuerPrivateKey: createPrivateKey(await readFile(mallory.paths.key)),
      crlNumber: 999,
      thisUpdate: new Date(),
      nextUpdate: new Date(Date.now() + 86_400_000),
      revoked: [{ serialHex: victim.serial, revokedAt: new Date().toISOString() }],
    });
    const genuineBefore = await readFile(pkiLayout(stateA).crlBundle, 'utf8');
    await bus.publish(CRL_CHANNEL, JSON.stringify({ node: 'mallory', pem: forged }));
    const refused = await nodeB.waitForAudit((r) => r.event === 'crl-refused', 'the forged CRL refused');
    expect(refused).toMatchObject({ node: 'node-b', reason: 'UNKNOWN_CA' });
    expect(refused.detail).toMatch(/no CA of ours signed/);
    expect(onB.connected).toBe(true);

    // The real thing, written only into node A's PKI: node B hears of it through Redis alone.
    const beforeRevocation = Date.now();
    await revokeIdentity(stateA, 'sensor-004');
    await revokeIdentity(stateA, 'sensor-003');
    const [atB, atA] = [await cutB, await cutA];
    // Node A reads its own CRL file at its poll (how late that runs on a loaded machine is the machine's); the
    // cluster's part — Redis, verification on node B, the cut — is timed from there: each session closed within 1 s
    // of node A reading the revocation (its audit, its clock; the first reload after the edit carries sensor-004's,
    // the one sensor-003's cut came with carries sensor-003's).
    const reloadsOnA = async () =>
      (await readAuditLog(nodeA.auditFile)).filter(
        (r) => r.event === 'crl-reloaded' && new Date(r.ts).getTime() >= beforeRevocation,
      );
    const cutOnA = await nodeA.waitForAudit(
      (r) => r.event === 'revoked-session-closed' && r.cn === 'sensor-003',
      'the cut on A',
    );
    const reloads = await reloadsOnA();
    const firstRead = new Date(reloads[0]!.ts).getTime();
    const readWithA = Math.max(
      ...reloads.map((r) => new Date(r.ts).getTime()).filter((t) => t <= new Date(cutOnA.ts).getTime()),
    );
    expect(atB - firstRead).toBeLessThanOrEqual(1000);
    expect(atA - readWithA).toBeLessThanOrEqual(1000);
    const cut = await nodeB.waitForAudit((r) => r.event === 'revoked-session-closed', 'the cut on node B');
    expect(cut).toMatchObject({
      node: 'node-b',
      reason: 'REVOKED',
      cn: 'sensor-004',
      cert: { serial: victim.serial },
    });
    await nodeA.waitForAudit(
      (r) => r.event === 'revoked-session-closed' && r.cn === 'sensor-003',
      'the cut on A',
    );

    // Replaying the genuine bundle from before the revocation would un-revoke: refused as older.
    await bus.publish(CRL_CHANNEL, JSON.stringify({ node: 'mallory', pem: genuineBefore }));
    const replay = await nodeB.waitForAudit(
      (r) => r.event === 'crl-refused' && /older/.test(r.detail ?? ''),
      'the replayed CRL refused',
    );
    expect(replay.reason).toBe('PROTOCOL_ERROR');
    await expect(
      connectTo(nodeB.port, stateB, 'sensor-004', { reconnectPeriod: 0 }, cleanups),
    ).rejects.toMatchObject({ code: 5 });
  });

  it('a persistent session on node C gets all 500 QoS 1 messages through node B after C is SIGKILLed', async () => {
    const doomed = await startNode(stateA, redis.url, 'node-c', cleanups);
    const persistent = { clean: false, reconnectPeriod: 0 };
    const first = await connectTo(doomed.port, stateA, 'sensor-002', persistent, cleanups);
    await first.subscribeAsync('devices/sensor-002/commands/#', { qos: 1 });
    await first.endAsync();

    // Published through node B, every one acknowledged. (Not through node C: aedes sends a QoS 1 PUBACK before it
    // has stored the message, so a node killed right after acking can lose what it acknowledged — README, Cluster.)
    const dashboard = await connectTo(nodeB.port, stateB, 'dashboard', { reconnectPeriod: 0 }, cleanups);
    const commands = Array.from({ length: 500 }, (_, i) => `command-${i}`);
    for (let i = 0; i < commands.length; i += 50) {
      await Promise.all(
        commands
          .slice(i, i + 50)
          .map((c) => dashboard.publishAsync('devices/sensor-002/commands/set', c, { qos: 1 })),
      );
    }
    await doomed.kill('SIGKILL');

    let sessionPresent = false;
    let received!: ReturnType<typeof collect>;
    await connectTo(nodeB.port, stateB, 'sensor-002', persistent, cleanups, (client) => {
      received = collect(client);
      client.once('connect', (connack) => {
        sessionPresent = connack.sessionPresent;
      });
    });
    await received.until(commands.length, 45_000);
    expect(sessionPresent).toBe(true);
    expect(commands.filter((c) => !received.seen.has(c))).toEqual([]); // none lost
    expect(received.duplicates()).toBe(0); // a redelivery carries the DUP flag
  }, 120_000);

  it('a simulated device given every node fails over from a dead node to a live one with its backoff', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve)); // nothing listens there now: a node that is down
    const dead = { host: '127.0.0.1', port: deadPort };
    const live = { host: '127.0.0.1', port: nodeB.port };
    const [spec] = await planFleet({
      stateDir: stateB,
      broker: dead,
      brokers: [dead, live],
      count: 1,
      intervalMs: 300,
    });
    const log = new EventLog();
    const device = new SimulatedDevice({ ...spec!, backoff: { initialMs: 50, maxMs: 200 } }, log.push);
    cleanups.push(() => device.stop());
    device.start();
    await log.waitFor((e) => e.type === 'state' && e.state === 'online');
    const failed = log.events.find((e) => e.type === 'state' && e.state === 'backing-off');
    expect(failed).toMatchObject({ reason: 'BROKER_UNREACHABLE' }); // the first attempt hit the dead node
    await nodeB.waitForAudit(
      (r) => r.event === 'connection-accepted' && r.cn === spec!.clientId,
      'the device on node B',
    );
  });
});
