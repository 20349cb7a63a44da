/**
 * The policy across a cluster whose nodes share no file system (two `certfleet broker --redis` processes, each with
 * its own copy of the state directory, one real redis-server): an edit of the policy file next to node A grants and
 * withdraws on node B within a second, open sessions on B re-judged; a policy put into Redis by anyone but a broker
 * of our CA — altered, signed with a device key, unsigned, or an old genuine one replayed — is refused, said once in
 * the audit, and the policy in force stays.
 */
import { cp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { POLICY_CHANNEL, POLICY_KEY } from '../../broker/cluster/policy-share.ts';
import { type PolicyEnvelope, signPolicy } from '../../broker/cluster/policy-signature.ts';
import { DEFAULT_POLICY_YAML, pkiLayout, showIdentity } from '../../pki/index.ts';
import { makePki, type PkiFixture, runCleanups } from '../helpers/broker-fixture.ts';
import { connectTo, startNode, type TestNode } from '../helpers/cluster-nodes.ts';
import { startRedis, type TestRedis } from '../helpers/redis-server.ts';

let pki: PkiFixture;
let stateA: string;
let stateB: string;
let redis: TestRedis;
let bus: Redis;
let nodeA: TestNode;
let nodeB: TestNode;
/** A second node on node A's state directory, as the nodes of `--workers N` are: both see every edit of the file. */
let nodeA2: TestNode;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002'] });
  cleanups.push(() => pki.cleanup());
  stateA = pki.stateDir;
  stateB = `${pki.stateDir}-node-b`; // node B's own copy: it shares nothing with node A but Redis
  await cp(stateA, stateB, { recursive: true });
  cleanups.push(() => rm(stateB, { recursive: true, force: true }));
  redis = await startRedis();
  cleanups.push(() => redis.stop());
  bus = new Redis(redis.port, '127.0.0.1');
  cleanups.push(async () => void bus.disconnect());
  [nodeA, nodeB, nodeA2] = await Promise.all([
    startNode(stateA, redis.url, 'node-a', cleanups),
    startNode(stateB, redis.url, 'node-b', cleanups),
    startNode(stateA, redis.url, 'node-a2', cleanups),
  ]);
}, 60_000);
afterAll(() => runCleanups(cleanups));

/** As an editor saves: a new file renamed over the old one. */
async function writePolicy(stateDir: string, yaml: string): Promise<number> {
  const file = pkiLayout(stateDir).policy;
  await writeFile(`${file}.tmp`, yaml);
  await rename(`${file}.tmp`, file);
  return Date.now();
}

/**
 * When the node of state A whose envelope another node applied (`cluster policy from node node-a…`) read the edit
 * from its own file: the moment the cluster's part begins. Timing the cluster from there leaves out the file poll
 * and how late that node ran, which on a loaded machine are the machine's, not the cluster's.
 */
async function readLocally(applied: AuditRecord, editedFrom: number): Promise<number> {
  const sender = /from node (\S+)/.exec(applied.detail ?? '')?.[1];
  const node = [nodeA, nodeA2].find((candidate) => candidate.id === sender);
  expect(node, `the sender ${sender} is a node of state A`).toBeDefined();
  const local = await node!.waitForAudit(
    (r) =>
      r.event === 'policy-reloaded' &&
      !/cluster policy/.test(r.detail ?? '') &&
      new Date(r.ts).getTime() >= editedFrom,
    `node ${sender} reading the edit from its file`,
  );
  return new Date(local.ts).getTime();
}

const GRANTS_BROADCAST = DEFAULT_POLICY_YAML.replace(
  '      - "devices/{cn}/commands/#"\n',
  '      - "devices/{cn}/commands/#"\n      - "fleet/broadcast"\n',
).replace('      - "devices/+/commands/#"\n', '      - "devices/+/commands/#"\n      - "fleet/broadcast"\n');
/** No entry for sensors at all any more: their sessions end, their CONNECTs are refused. */
const NO_SENSORS = DEFAULT_POLICY_YAML.replace(
  '["sensor-*", "tracker-*", "meter-*", "door-*"]',
  '"tracker-*"',
);

/** The SUBACK's return code for one filter (mqtt.js rejects a 128 with the SUBACK attached). */
const subscribeGrant = (client: MqttClient, filter: string) =>
  client.subscribeAsync(filter, { qos: 1 }).then(
    (granted) => granted[0]!.qos,
    (error: { packet?: { granted?: number[] } }) => {
      const code = error.packet?.granted?.[0];
      if (code === undefined) throw error;
      return code;
    },
  );

let genuineFirst = ''; // the envelope of the first edit: replayed later

describe('the policy in a cluster on Redis', () => {
  it('an edit next to node A grants on node B within 1 s of A reading it, and a withdrawal cuts the session on B', async () => {
    expect(GRANTS_BROADCAST).toContain('fleet/broadcast');
    const sensor = await connectTo(nodeB.port, stateB, 'sensor-001', { reconnectPeriod: 0 }, cleanups);
    expect(await subscribeGrant(sensor, 'fleet/broadcast')).toBe(128); // not granted yet

    const beforeEdit = Date.now();
    await writePolicy(stateA, GRANTS_BROADCAST);
    const reloaded = await nodeB.waitForAudit(
      (r) => r.event === 'policy-reloaded' && /cluster policy from node node-a/.test(r.detail ?? ''),
      'the policy from node A applied on node B',
    );
    // Through Redis within 1 s of the node that read the edit (the whole way is reported).
    const readAt = await readLocally(reloaded, beforeEdit);
    expect(new Date(reloaded.ts).getTime() - readAt).toBeLessThanOrEqual(1000);
    expect(await subscribeGrant(sensor, 'fleet/broadcast')).toBe(1);
    // …and it works end to end: the dashboard on node A may publish there now, the sensor on B receives it
    const received = new Promise<string>((resolve) =>
      sensor.on('message', (topic, payload) => topic === 'fleet/broadcast' && resolve(payload.toString())),
    );
    const dashboard = await connectTo(nodeA.port, stateA, 'dashboard', { reconnectPeriod: 0 }, cleanups);
    await dashboard.publishAsync('fleet/broadcast', 'firmware 2.1 tonight', { qos: 1 });
    expect(await received).toBe('firmware 2.1 tonight');
    genuineFirst = (await bus.get(POLICY_KEY))!;
    expect(JSON.parse(genuineFirst)).toMatchObject({
      node: expect.stringMatching(/^node-a2?$/),
      yaml: GRANTS_BROADCAST,
    });

    // Withdrawn: the open session on node B is re-judged at once, a new CONNECT there is refused.
    const closedAt = new Promise<number>((resolve) => sensor.once('close', () => resolve(Date.now())));
    const beforeWithdrawal = Date.now();
    await writePolicy(stateA, NO_SENSORS);
    const withdrawn = await nodeB.waitForAudit(
      (r) => r.event === 'grant-withdrawn' && r.cn === 'sensor-001',
      'the grant withdrawn on B',
    );
    const appliedOnB = await nodeB.waitForAudit(
      (r) =>
        r.event === 'policy-reloaded' &&
        /cluster policy from node/.test(r.detail ?? '') &&
        new Date(r.ts).getTime() >= beforeWithdrawal,
      'the withdrawal applied on B',
    );
    expect((await closedAt) - (await readLocally(appliedOnB, beforeWithdrawal))).toBeLessThanOrEqual(1000);
    expect(withdrawn).toMatchObject({ node: 'node-b', reason: 'UNKNOWN_IDENTITY' });
    await expect(
      connectTo(nodeB.port, stateB, 'sensor-002', { reconnectPeriod: 0 }, cleanups),
    ).rejects.toMatchObject({ code: 5 });
    // node B's own file was never touched: only Redis carried the change
    expect(await readFile(pkiLayout(stateB).policy, 'utf8')).toBe(DEFAULT_POLICY_YAML);
    // Two nodes sharing A's file each signed and offered the same edit: the copies are no refusal anywhere.
    const reloads = async (node: TestNode) =>
      (await readAuditLog(node.auditFile)).filter((r) => r.event === 'policy-reloaded').length;
    for (let tries = 0; (await reloads(nodeA2)) < 2 && tries < 100; tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await reloads(nodeA2)).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the other copies' announcements arrive
    for (const node of [nodeA, nodeA2, nodeB]) {
      const refusals = (await readAuditLog(node.auditFile)).filter((r) => r.event === 'policy-refused');
      expect({ node: node.id, refusals }).toEqual({ node: node.id, refusals: [] });
    }
  }, 60_000);

  it('a policy in Redis that a broker of our CA did not sign as it is — altered, device-signed, unsigned, replayed — is refused once and changes nothing', async () => {
    const inForce = JSON.parse((await bus.get(POLICY_KEY))!) as PolicyEnvelope;
    expect(inForce.yaml).toBe(NO_SENSORS);
    const push = async (envelope: object) => {
      const text = JSON.stringify(envelope);
      await bus.set(POLICY_KEY, text);
      await bus.publish(POLICY_CHANNEL, text);
    };
    const refusedOnB = (pattern: RegExp, what: string) =>
      nodeB.waitForAudit((r) => r.event === 'policy-refused' && pattern.test(r.detail ?? ''), what);

    // Altered: sensors granted everything, under node A's genuine signature.
    const altered = {
      ...inForce,
      seq: inForce.seq + 10,
      yaml: DEFAULT_POLICY_YAML.replace('"devices/{cn}/commands/#"', '"#"'),
    };
    await push(altered);
    await push(altered); // seen twice, said once
    const refusal = await refusedOnB(/signature does not verify/, 'the altered policy refused');
    expect(refusal).toMatchObject({ node: 'node-b', reason: 'POLICY_INVALID' });
    expect(refusal.detail).toMatch(/the policy in force stays/);

    // Signed properly, but with a device's key and certificate (valid, from our CA — just not a broker).
    const device = await showIdentity(stateA, 'sensor-001');
    const byDevice = signPolicy(DEFAULT_POLICY_YAML, inForce.seq + 20, 'mallory', {
      certPem: await readFile(device.paths.cert, 'utf8'),
      keyPem: await readFile(device.paths.key, 'utf8'),
    });
    await push(byDevice);
    await refusedOnB(/not the broker identity/, 'the device-signed policy refused');

    // Unsigned.
    await push({ ...byDevice, signature: '', signer: '' });
    await refusedOnB(/unsigned/, 'the unsigned policy refused');

    // A genuine policy of node A's, but an old one: replaying it would grant the sensors again.
    await bus.publish(POLICY_CHANNEL, genuineFirst);
    await refusedOnB(/not newer than the applied/, 'the replayed policy refused');

    const refusals = (await readAuditLog(nodeB.auditFile)).filter((r) => r.event === 'policy-refused');
    expect(refusals.filter((r) => /signature does not verify/.test(r.detail ?? ''))).toHaveLength(1);
    // Node A refuses them too, and neither node applied any of them: sensors are still refused everywhere.
    await nodeA.waitForAudit(
      (r) => r.event === 'policy-refused' && /not the broker/.test(r.detail ?? ''),
      'A too',
    );
    for (const node of [nodeA, nodeB]) {
      await expect(
        connectTo(
          node.port,
          node === nodeA ? stateA : stateB,
          'sensor-002',
          { reconnectPeriod: 0 },
          cleanups,
        ),
      ).rejects.toMatchObject({ code: 5 });
    }
  }, 60_000);
});
