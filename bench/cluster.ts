/**
 * Suite `cluster`: what running certfleet as a cluster on Redis costs and gains, side by side in one run — mTLS
 * connections per second and QoS 0 / QoS 1 throughput of Mosquitto, certfleet as the single in-memory process it
 * is without --redis, certfleet as one node on Redis, and two nodes on Redis sharing one port (`--workers 2`).
 * Every figure comes with the CPU per operation of the broker processes and of Redis, Redis commands per
 * operation (its round trips), and the load average (the machine is shared: wall-clock rates move with it,
 * CPU per operation much less).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ConnectRateResult } from './loadgen/connect-rate.ts';
import type { ThroughputResult } from './loadgen/throughput.ts';
import { benchPki } from './lib/bench-pki.ts';
import { mosquittoVersion, REPO, startCertfleet, startMosquitto } from './lib/brokers.ts';
import { alternatingOrder, medianOf } from './lib/compare.ts';
import { cpuSeconds, loadAverage } from './lib/process-stats.ts';
import { type BenchRedis, startBenchRedis } from './lib/redis.ts';
import { runLoadgen } from './lib/run-loadgen.ts';
import { ratio } from './lib/stats.ts';

type TopologyName =
  | 'mosquitto'
  | 'certfleet in-memory'
  | 'certfleet 1 node + Redis'
  | 'certfleet 2 nodes + Redis';
type CaseName = 'connect (EC)' | 'QoS 0 saturating' | 'QoS 1 saturating';

interface Served {
  readonly port: number;
  /** Every process that serves (a cluster's primary, which hands out connections, and its workers). */
  readonly pids: number[];
  stop(): Promise<void>;
}

export interface ClusterSample {
  topology: TopologyName;
  case: CaseName;
  perSecond: number;
  /** Broker CPU (all its processes) per operation, ms. */
  brokerCpuMsPerOp: number;
  /** Cores the broker processes kept busy. */
  brokerCores: number;
  redisCpuMsPerOp: number;
  redisCores: number;
  /** Redis commands per operation (a connection, or a delivered message). */
  redisCommandsPerOp: number;
  failuresOrLost: number;
  load1: number;
}

async function startClusterNodes(stateDir: string, redis: BenchRedis, nodes: number): Promise<Served> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO, 'bench', 'servers', 'certfleet-cluster.ts'),
      stateDir,
      redis.url,
      String(nodes),
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`cluster of ${nodes} exited (${code}) before listening`)));
  });
  return {
    ...ready,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function serve(name: TopologyName, stateDir: string, redis: BenchRedis): Promise<Served> {
  if (name === 'mosquitto' || name === 'certfleet in-memory') {
    const broker = name === 'mosquitto' ? await startMosquitto(stateDir) : await startCertfleet(stateDir);
    return { port: broker.port, pids: [broker.pid], stop: () => broker.stop() };
  }
  await redis.flush();
  return startClusterNodes(stateDir, redis, name === 'certfleet 2 nodes + Redis' ? 2 : 1);
}

export async function benchCluster(options: { quick: boolean; only?: string }) {
  const { quick } = options;
  const repetitions = quick ? 1 : 3;
  const timing = quick ? { warmupMs: 300, durationMs: 1000 } : { warmupMs: 1500, durationMs: 5000 };
  const topologies: TopologyName[] = [
    'mosquitto',
    'certfleet in-memory',
    'certfleet 1 node + Redis',
    'certfleet 2 nodes + Redis',
  ].filter((name) => options.only === undefined || name.includes(options.only)) as TopologyName[];
  const cases: CaseName[] = ['connect (EC)', 'QoS 0 saturating', 'QoS 1 saturating'];
  const pki = await benchPki({ ec: 64, rsa: 0 });
  const redis = await startBenchRedis();
  const samples: ClusterSample[] = [];
  try {
    for (let repetition = 0; repetition < repetitions; repetition++) {
      for (const topology of alternatingOrder(topologies, repetition)) {
        const served = await serve(topology, pki.stateDir, redis);
        try {
          for (const testCase of cases)
            samples.push(await measure(topology, testCase, served, redis, pki, timing));
        } finally {
          await served.stop();
        }
      }
    }
  } finally {
    await redis.stop();
  }
  const runs = cases.flatMap((testCase) =>
    topologies.map((topology) =>
      medianOf(samples.filter((s) => s.topology === topology && s.case === testCase)),
    ),
  );
  const pick = (topology: TopologyName, testCase: CaseName, field: keyof ClusterSample) =>
    Number(runs.find((r) => r.topology === topology && r.case === testCase)?.[field]);
  const ratios: Record<string, number> = {};
  for (const testCase of cases) {
    ratios[`${testCase}: 2 nodes / 1 node on Redis, per second`] = ratio(
      pick('certfleet 2 nodes + Redis', testCase, 'perSecond'),
      pick('certfleet 1 node + Redis', testCase, 'perSecond'),
    );
    ratios[`${testCase}: 1 node on Redis / in-memory, broker CPU per op`] = ratio(
      pick('certfleet 1 node + Redis', testCase, 'brokerCpuMsPerOp'),
      pick('certfleet in-memory', testCase, 'brokerCpuMsPerOp'),
    );
    ratios[`${testCase}: 2 nodes on Redis / Mosquitto, per second`] = ratio(
      pick('certfleet 2 nodes + Redis', testCase, 'perSecond'),
      pick('mosquitto', testCase, 'perSecond'),
    );
  }
  return {
    runs,
    ratios,
    method: {
      repetitions,
      ...timing,
      order:
        'topologies alternate per repetition; each topology is started fresh (Redis flushed) and runs all three cases',
      connect:
        'EC P-256 device certificates, 32 concurrent, full TLS 1.3 handshakes + CONNECT/CONNACK, clean session',
      throughput:
        '8 publishers → 1 subscriber (dashboard, devices/+/telemetry), 128-byte payloads, 32 in flight each',
      cpu: 'from /proc/<pid>/stat over the measured window: broker = every serving process (a cluster primary included), Redis separately',
      redisCommandsPerOp: 'INFO stats total_commands_processed delta over the window / operations',
    },
    versions: { mosquitto: mosquittoVersion(), node: process.version },
    samples,
  };
}

async function measure(
  topology: TopologyName,
  testCase: CaseName,
  served: Served,
  redis: BenchRedis,
  pki: Awaited<ReturnType<typeof benchPki>>,
  timing: { warmupMs: number; durationMs: number },
): Promise<ClusterSample> {
  let brokerCpu = 0;
  let redisCpu = 0;
  let commands = 0;
  let commandsAtStart: Promise<number> = Promise.resolve(0);
  const cpuNow = () => served.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const marks = {
    onMeasuring: () => {
      brokerCpu = cpuNow();
      redisCpu = cpuSeconds(redis.pid);
      commandsAtStart = redis.commands();
    },
    onMeasured: () => {
      brokerCpu = cpuNow() - brokerCpu;
      redisCpu = cpuSeconds(redis.pid) - redisCpu;
      const end = redis.commands();
      commands = Number.NaN;
      void Promise.all([commandsAtStart, end]).then(([a, b]) => {
        commands = b - a;
      });
    },
  };
  let operations: number;
  let seconds: number;
  let failuresOrLost: number;
  if (testCase === 'connect (EC)') {
    const result = await runLoadgen<ConnectRateResult>(
      'connect-rate',
      { port: served.port, ca: pki.ca, identities: pki.ec, concurrency: 32, probe: 'mqtt', ...timing },
      marks,
    );
    [operations, seconds, failuresOrLost] = [result.connections, result.seconds, result.failures];
  } else {
    const result = await runLoadgen<ThroughputResult>(
      'throughput',
      {
        port: served.port,
        ca: pki.ca,
        publishers: pki.ec.slice(0, 8),
        subscriber: pki.dashboard,
        qos: testCase === 'QoS 0 saturating' ? 0 : 1,
        payloadSize: 128,
        window: 32,
        ...timing,
      },
      marks,
    );
    [operations, seconds, failuresOrLost] = [result.messages, result.seconds, result.lost];
  }
  await new Promise((resolve) => setTimeout(resolve, 100)); // the INFO answers
  const usesRedis = topology.includes('Redis');
  return {
    topology,
    case: testCase,
    perSecond: operations / seconds,
    brokerCpuMsPerOp: (1000 * brokerCpu) / operations,
    brokerCores: brokerCpu / seconds,
    redisCpuMsPerOp: usesRedis ? (1000 * redisCpu) / operations : 0,
    redisCores: usesRedis ? redisCpu / seconds : 0,
    redisCommandsPerOp: usesRedis ? commands / operations : 0,
    failuresOrLost,
    load1: loadAverage(),
  };
}
