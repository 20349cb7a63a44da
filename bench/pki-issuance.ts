import { generateKeyPair } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { initPki, issueIdentities } from '../pki/index.ts';
import { runningLeafWorkers } from '../pki/leaf-pool.ts';
import { measureLoopStall } from './lib/loop-stall.ts';
import { loadAverage } from './lib/process-stats.ts';
import { opensslSpeed } from './machine.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface IssuanceRun {
  label: string;
  count: number;
  seconds: number;
  perSecond: number;
  /** CPU time of this process (every thread: the event loop, leaf workers, libuv's pool) while issuing. */
  cpuSeconds: number;
  perCpuSecond: number;
  /** Longest event-loop stall while issuing, in ms. */
  maxStallMs: number;
  /** Most CPU the event loop's thread ran between two 5 ms ticks: the part of the stall our code caused. */
  maxBusyMs: number | null;
  /** Longest stall of the same event loop doing nothing for a second just before: what the machine's load costs. */
  idleStallMs: number;
  load1: number;
  /** Leaf worker threads running after the run (0: the batch was made on the event loop alone). */
  workers: number;
}

async function timedIssue(
  stateDir: string,
  label: string,
  ids: string[],
  keyType: 'ec' | 'rsa',
  oneAtATime = false,
): Promise<IssuanceRun> {
  const idleStallMs = (await measureLoopStall(() => sleep(1000))).maxStallMs;
  const load1 = loadAverage();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { maxStallMs, maxBusyMs } = await measureLoopStall(async () => {
    if (oneAtATime) for (const id of ids) await issueIdentities(stateDir, [id], { keyType });
    else await issueIdentities(stateDir, ids, { keyType });
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return {
    label,
    count: ids.length,
    seconds,
    perSecond: ids.length / seconds,
    cpuSeconds,
    perCpuSecond: ids.length / cpuSeconds,
    maxStallMs,
    maxBusyMs,
    idleStallMs,
    load1,
    workers: runningLeafWorkers(),
  };
}

async function rawRsaKeygenPerSecond(count: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, () => generateKeyPairAsync('rsa', { modulusLength: 2048 })),
  );
  return count / ((performance.now() - started) / 1000);
}

/**
 * Identities (key + certificate + chain written durably + indexed) per second. References measured in the same run:
 * `openssl speed ecdsap256` signatures/s on one core (an EC identity needs one), and raw RSA-2048 key generation
 * through node:crypto on all cores (an RSA identity needs one).
 *
 * "Disk" is where certfleet keeps its state by default (`.certfleet/` next to the sources) and, for comparison, the
 * OS temp dir on the same disk: on this machine /tmp's inode groups are churned by every test run, and ext4 then
 * spends ~300 µs of kernel time per new file skipping recently freed inodes (`recently_deleted`, seen with
 * perf) against ~20 µs elsewhere. State dirs are removed only at the end, so one run's deletions do not slow the next.
 */
export async function benchPkiIssuance(options: { quick: boolean }) {
  const bulk = options.quick ? 300 : 1000;
  const big = options.quick ? 1000 : 5000;
  const rsaCount = options.quick ? 8 : 24;
  const ecSpeed = opensslSpeed('ecdsap256', options.quick ? 1 : 2);
  const runs: IssuanceRun[] = [];
  const stateDirs: string[] = [];
  const stateDir = async (base: string) => {
    await mkdir(base, { recursive: true });
    const dir = await mkdtemp(join(base, 'certfleet-bench-pki-'));
    stateDirs.push(dir);
    await initPki(dir);
    return dir;
  };
  const ecIds = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const stateDisk = join(import.meta.dirname, '..', '.certfleet');
  try {
    // Bulk, then single calls and RSA in the same store (as before this bench measured 5,000: comparable rows).
    const onDisk = await stateDir(stateDisk);
    runs.push(await timedIssue(onDisk, `EC P-256 bulk ${bulk} (disk)`, ecIds('ec-', bulk), 'ec'));
    runs.push(
      await timedIssue(onDisk, 'EC P-256 one call per identity ×20', ecIds('single-', 20), 'ec', true),
    );
    runs.push(await timedIssue(onDisk, `RSA-2048 bulk ${rsaCount}`, ecIds('rsa-', rsaCount), 'rsa'));
    const bigStore = await stateDir(stateDisk);
    runs.push(await timedIssue(bigStore, `EC P-256 bulk ${big} (disk)`, ecIds('big-', big), 'ec'));
    const inTmp = await stateDir(tmpdir());
    runs.push(await timedIssue(inTmp, `EC P-256 bulk ${bulk} (disk, OS temp dir)`, ecIds('ec-', bulk), 'ec'));
    // The same bulk on tmpfs shows what the file system costs.
    const onTmpfs = await stateDir('/dev/shm').catch(() => null);
    if (onTmpfs)
      runs.push(await timedIssue(onTmpfs, `EC P-256 bulk ${bulk} (tmpfs)`, ecIds('ec-', bulk), 'ec'));
  } finally {
    await Promise.all(stateDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
  const rsaKeygen = await rawRsaKeygenPerSecond(rsaCount);
  const ecBulk = runs[0]!;
  return {
    runs,
    references: { opensslEcdsaP256SignPerSecond: ecSpeed.sign, nodeRsa2048KeygenPerSecond: rsaKeygen },
    ratios: {
      ecBulkVsOpensslSign: ecBulk.perSecond / ecSpeed.sign,
      ecBulkPerCpuSecondVsOpensslSign: ecBulk.perCpuSecond / ecSpeed.sign,
      rsaVsRawKeygen: runs[2]!.perSecond / rsaKeygen,
    },
  };
}
