/**
 * Suite `cluster-sync` (named only): what keeping the nodes of a cluster in step costs.
 * - Policy propagation: the policy file of node A is edited (atomic replace), node A applies it from its file and
 *   node B — its own state directory, no shared file system — from the signed envelope in Redis. Latency = the
 *   `policy-reloaded` audit record's time − the write; node A's own reload is the reference in the same run.
 * - Subscription re-read after a Redis outage (broker/cluster/subscription-resync.ts): N persistent sessions stored
 *   through the real persistence, then one node's re-read timed, with its Redis commands and CPU (node + Redis).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cp, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { readAuditLog } from '../broker/audit-log.ts';
import { startBroker } from '../broker/broker.ts';
import { createClusterParts } from '../broker/cluster/index.ts';
import { resyncSubscriptions } from '../broker/cluster/subscription-resync.ts';
import { DEFAULT_POLICY_YAML, initPki, pkiLayout } from '../pki/index.ts';
import { REPO } from './lib/brokers.ts';
import { cpuSeconds, loadAverage } from './lib/process-stats.ts';
import { type BenchRedis, startBenchRedis } from './lib/redis.ts';
import { median, percentile, ratio } from './lib/stats.ts';

interface Node {
  readonly child: ChildProcess;
  readonly auditFile: string;
}

async function reloadedAt(node: Node, seen: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reloads = (await readAuditLog(node.auditFile).catch(() => [])).filter(
      (r) => r.event === 'policy-reloaded',
    );
    if (reloads.length > seen) return Date.parse(reloads[seen]!.ts);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Number.NaN;
}

async function policyPropagation(redis: BenchRedis, edits: number) {
  const stateA = await mkdtemp(join(tmpdir(), 'certfleet-bench-sync-a-'));
  const stateB = `${stateA}-b`;
  await initPki(stateA);
  await cp(stateA, stateB, { recursive: true });
  const nodes: Node[] = [];
  try {
    nodes.push(await startCli(stateA, redis.url, 'sync-a'), await startCli(stateB, redis.url, 'sync-b'));
    const [a, b] = nodes as [Node, Node];
    const policyFile = pkiLayout(stateA).policy;
    const local: number[] = [];
    const remote: number[] = [];
    for (let edit = 0; edit < edits; edit++) {
      const yaml = `${DEFAULT_POLICY_YAML}# edit ${edit}\n`;
      await writeFile(`${policyFile}.tmp`, yaml);
      const writtenAt = Date.now();
      await rename(`${policyFile}.tmp`, policyFile);
      const [atA, atB] = await Promise.all([reloadedAt(a, edit), reloadedAt(b, edit)]);
      local.push(atA - writtenAt);
      remote.push(atB - writtenAt);
      await new Promise((resolve) => setTimeout(resolve, 200)); // one edit settled before the next
    }
    return {
      edits,
      localMedianMs: median(local),
      localP95Ms: percentile(local, 95),
      remoteMedianMs: median(remote),
      remoteP95Ms: percentile(remote, 95),
      remoteMaxMs: Math.max(...remote),
      remoteOverLocalMedian: ratio(median(remote), median(local)),
      lost: remote.filter((ms) => Number.isNaN(ms)).length,
      load1: loadAverage(),
    };
  } finally {
    for (const node of nodes) {
      const exited = new Promise((resolve) => node.child.once('exit', resolve));
      node.child.kill('SIGTERM');
      await exited;
    }
    await rm(stateA, { recursive: true, force: true });
    await rm(stateB, { recursive: true, force: true });
  }
}

function startCli(stateDir: string, redis: string, id: string): Promise<Node> {
  const child = spawn(
    process.execPath,
    [
      join(REPO, 'bin', 'certfleet.js'),
      '--state-dir',
      stateDir,
      'broker',
      '--port',
      '0',
      '--redis',
      redis,
      '--node-id',
      id,
      '--json-ready',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node ${id} exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      child.removeAllListeners('exit');
      resolve({ child, auditFile: (JSON.parse(line) as { auditFile: string }).auditFile });
    });
  });
}

async function subscriptionReread(redis: BenchRedis, sessions: number) {
  await redis.flush();
  const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-bench-resync-'));
  await initPki(stateDir);
  const cluster = await createClusterParts({ redis: redis.url, nodeId: `resync-${sessions}` });
  const broker = await startBroker({ stateDir, port: 0, cluster });
  const db = new Redis(redis.url);
  try {
    const persistence = cluster.aedesOptions.persistence as {
      asyncPersistence: { addSubscriptions(client: { id: string }, subs: object[]): Promise<unknown> };
    };
    const batch = 100;
    for (let i = 0; i < sessions; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, sessions - i) }, (_, j) => {
          const id = `sensor-${i + j}`;
          return persistence.asyncPersistence.addSubscriptions({ id }, [
            { topic: `devices/${id}/commands/#`, qos: 1 },
          ]);
        }),
      );
    }
    const commandsBefore = await redis.commands();
    const redisCpu = cpuSeconds(redis.pid);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const reread = await resyncSubscriptions(cluster.aedesOptions.persistence, db);
    const ms = performance.now() - started;
    const nodeCpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
    const redisCpuMs = (cpuSeconds(redis.pid) - redisCpu) * 1000;
    const commands = (await redis.commands()) - commandsBefore;
    return {
      sessions,
      reread,
      ms,
      msPerSession: ms / sessions,
      nodeCpuMsPerSession: nodeCpuMs / sessions,
      redisCpuMsPerSession: redisCpuMs / sessions,
      redisCommandsPerSession: commands / sessions,
      load1: loadAverage(),
    };
  } finally {
    db.disconnect();
    await broker.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export async function benchClusterSync(options: { quick: boolean }) {
  const redis = await startBenchRedis();
  try {
    const policy = await policyPropagation(redis, options.quick ? 5 : 20);
    const reread = [];
    for (const sessions of options.quick ? [200] : [1000, 5000])
      reread.push(await subscriptionReread(redis, sessions));
    return {
      runs: [
        { case: 'policy propagation', ...policy },
        ...reread.map((r) => ({ case: 'subscription re-read', ...r })),
      ],
      method: {
        policy:
          'two `certfleet broker --redis` nodes, separate state dirs; node A policy file replaced atomically; latency = policy-reloaded audit ts − write time (same machine clock); node A = the single-broker file-watch reference',
        reread:
          'N persistent sessions stored through aedes-persistence-redis (addSubscriptions, one QoS 1 filter each), then resyncSubscriptions timed in-process; Redis commands from INFO stats; CPU: this process (the node) and redis-server',
      },
      versions: {
        redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
        node: process.version,
      },
    };
  } finally {
    await redis.stop();
  }
}
