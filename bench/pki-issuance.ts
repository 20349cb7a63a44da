import { execFileSync } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { initPki, issueIdentities } from '../pki/index.ts';
import type { IssuePhase } from '../pki/issue-phases.ts';
import { runningLeafWorkers } from '../pki/leaf-pool.ts';
import { type DiskReference, dirtyPages, measureDiskReference } from './lib/disk-reference.ts';
import { measureLoopStall } from './lib/loop-stall.ts';
import { removeStores } from './lib/remove-stores.ts';
import { loadAverage } from './lib/process-stats.ts';
import { median, ratio } from './lib/stats.ts';
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
  /** Dirty + Writeback kB of the whole machine before and after (others' writes land in the same syncfs). */
  dirtyKbBefore: number | null;
  dirtyKbAfter: number | null;
}

type Phases = Partial<Record<IssuePhase, { wallMs: number; cpuMs: number }>>;

async function timedIssue(
  stateDir: string,
  label: string,
  ids: string[],
  keyType: 'ec' | 'rsa',
  oneAtATime = false,
): Promise<IssuanceRun & { phases: Phases }> {
  const idleStallMs = (await measureLoopStall(() => sleep(1000))).maxStallMs;
  const load1 = loadAverage();
  const phases: Phases = {};
  const onPhase = (phase: IssuePhase, wallMs: number, cpuMs: number) => {
    const sum = phases[phase] ?? { wallMs: 0, cpuMs: 0 };
    phases[phase] = { wallMs: sum.wallMs + wallMs, cpuMs: sum.cpuMs + cpuMs };
  };
  const dirtyBefore = dirtyPages();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { maxStallMs, maxBusyMs } = await measureLoopStall(async () => {
    if (oneAtATime) for (const id of ids) await issueIdentities(stateDir, [id], { keyType, onPhase });
    else await issueIdentities(stateDir, ids, { keyType, onPhase });
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const dirtyAfter = dirtyPages();
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
    dirtyKbBefore: dirtyBefore && dirtyBefore.dirtyKb + dirtyBefore.writebackKb,
    dirtyKbAfter: dirtyAfter && dirtyAfter.dirtyKb + dirtyAfter.writebackKb,
    phases,
  };
}

async function rawRsaKeygenPerSecond(count: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, () => generateKeyPairAsync('rsa', { modulusLength: 2048 })),
  );
  return count / ((performance.now() - started) / 1000);
}

/** `--reps=N` on the command line (npm run bench -- pki --reps=5): repetitions of the bulk-on-disk row. */
function repetitions(): number {
  const flag = process.argv.find((arg) => arg.startsWith('--reps='));
  const reps = flag ? Number(flag.slice('--reps='.length)) : 3;
  return Number.isInteger(reps) && reps >= 1 ? reps : 3;
}

/**
 * Asks ext4 to place each directory made under `dir` the way it places top-level ones (`chattr +T`: Orlov spreads
 * them over the block groups with the most free inodes and fewest directories). Best effort: elsewhere a no-op.
 * Why: this machine's ext4 has no journal, and without one it skips every inode freed in the last 60–360 s when it
 * allocates (`recently_deleted`, perf: 73 % of a file creation's CPU right after a big delete), scanning them from
 * the start of the group for every new file. A store created next to the previous run's deleted stores paid up to
 * ~1 ms of kernel time per file — the 2,128/s then 718/s of two runs a minute apart. The bench measures that case
 * on purpose in one row; the other rows must not inherit it from whatever ran before.
 */
function spreadSubdirectories(dir: string): boolean {
  try {
    execFileSync('chattr', ['+T', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface BulkRepetition {
  rep: number;
  perSecond: number;
  perCpuSecond: number;
  maxStallMs: number;
  maxBusyMs: number | null;
  load1: number;
  /** The plain-files reference of the same size, just before, in the same place. */
  diskReferencePerSecond: number;
  vsDiskReference: number;
  phases: Phases;
  diskReference: DiskReference;
}

/** One bulk-on-disk row next to the disk reference measured just before it, in the same place. */
function asRepetition(
  rep: number,
  run: IssuanceRun & { phases: Phases },
  diskReference: DiskReference,
): BulkRepetition {
  return {
    rep,
    perSecond: run.perSecond,
    perCpuSecond: run.perCpuSecond,
    maxStallMs: run.maxStallMs,
    maxBusyMs: run.maxBusyMs,
    load1: run.load1,
    diskReferencePerSecond: diskReference.perSecond,
    vsDiskReference: run.perSecond / diskReference.perSecond,
    phases: run.phases,
    diskReference,
  };
}

function spread(values: number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/**
 * Identities (key + certificate + chain written durably + indexed) per second. References measured in the same run:
 * `openssl speed ecdsap256` signatures/s on one core (an EC identity needs one), raw RSA-2048 key generation through
 * node:crypto on all cores (an RSA identity needs one), and before each repetition of the bulk-on-disk row the same
 * files written by one thread without cryptography (bench/lib/disk-reference.ts): what the disk alone allows.
 *
 * "Disk" is where certfleet keeps its state by default (`.certfleet/` next to the sources); the OS temp dir is on the
 * same disk here, but its inode groups are churned by every test on the machine. All stores of a run stay until the
 * end, so one row's deletions cannot slow the next; the last row deliberately issues right after deleting a store
 * of the same size next to it, with its own disk reference, to show what recently freed inodes cost on this ext4.
 */
export async function benchPkiIssuance(options: { quick: boolean }) {
  const bulk = options.quick ? 300 : 1000;
  const big = options.quick ? 1000 : 5000;
  const rsaCount = options.quick ? 8 : 24;
  const reps = repetitions();
  const ecSpeed = opensslSpeed('ecdsap256', options.quick ? 1 : 2);
  const runs: IssuanceRun[] = [];
  const phaseRows: Array<{ label: string } & Phases> = [];
  const bulkReps: BulkRepetition[] = [];
  const roots: string[] = [];
  const stateDirParent = join(import.meta.dirname, '..', '.certfleet', 'bench-pki');
  await mkdir(stateDirParent, { recursive: true });
  const spreadDirs = spreadSubdirectories(stateDirParent);
  const newRoot = async (base: string) => {
    await mkdir(base, { recursive: true });
    const root = await mkdtemp(join(base, 'run-'));
    roots.push(root);
    return root;
  };
  const stateDir = async (root: string, name: string) => {
    const dir = join(root, name);
    await initPki(dir);
    return dir;
  };
  const record = (run: IssuanceRun & { phases: Phases }) => {
    const { phases, ...rest } = run;
    runs.push(rest);
    phaseRows.push({ label: run.label, ...phases });
    return run;
  };
  const ecIds = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  let afterDelete: BulkRepetition | null = null;
  let deleteSeconds = Number.NaN;
  let cleanupSeconds = Number.NaN;
  try {
    const root = await newRoot(stateDirParent);
    // Bulk, then single calls and RSA in the same store (the first bulk of the process starts the worker pool).
    const onDisk = await stateDir(root, 'cold');
    record(await timedIssue(onDisk, `EC P-256 bulk ${bulk} (disk, cold pool)`, ecIds('ec-', bulk), 'ec'));
    record(await timedIssue(onDisk, 'EC P-256 one call per identity ×20', ecIds('single-', 20), 'ec', true));
    record(await timedIssue(onDisk, `RSA-2048 bulk ${rsaCount}`, ecIds('rsa-', rsaCount), 'rsa'));
    // The headline row, repeated: the disk reference and the bulk issue alternate, each in a place of its own.
    const repeat = async (rep: number, where: string, label: string): Promise<BulkRepetition> => {
      const diskReference = measureDiskReference(join(where, `disk-reference-${rep}`), big);
      const run = record(
        await timedIssue(await stateDir(where, `bulk-${rep}`), label, ecIds('big-', big), 'ec'),
      );
      return asRepetition(rep, run, diskReference);
    };
    for (let rep = 1; rep <= reps; rep++)
      bulkReps.push(await repeat(rep, await newRoot(stateDirParent), `EC P-256 bulk ${big} (disk) #${rep}`));
    const inTmp = await stateDir(await newRoot(tmpdir()), 'tmp');
    record(await timedIssue(inTmp, `EC P-256 bulk ${bulk} (disk, OS temp dir)`, ecIds('ec-', bulk), 'ec'));
    // The same bulk on tmpfs shows what the file system costs.
    const shm = await newRoot('/dev/shm').catch(() => null);
    if (shm)
      record(
        await timedIssue(
          await stateDir(shm, 'tmpfs'),
          `EC P-256 bulk ${bulk} (tmpfs)`,
          ecIds('ec-', bulk),
          'ec',
        ),
      );
    // Last (full runs): the disk reference and a bulk issue, each right after deleting a store of the same size
    // next to it — what recently freed inodes cost on this ext4, the spread between runs a minute apart.
    if (!options.quick) {
      const where = roots[1]!;
      const deleted = performance.now();
      await removeStores([join(where, 'disk-reference-1')]);
      const diskReference = measureDiskReference(join(where, 'disk-reference-0'), big);
      await removeStores([join(where, 'bulk-1')]);
      const label = `EC P-256 bulk ${big} (disk, just after deleting ${big} next to it)`;
      const run = record(await timedIssue(await stateDir(where, 'bulk-0'), label, ecIds('big-', big), 'ec'));
      afterDelete = asRepetition(0, run, diskReference);
      deleteSeconds = (performance.now() - deleted) / 1000 - diskReference.seconds - run.seconds;
    }
  } finally {
    // This disk discards freed blocks as files are deleted (bench/lib/remove-stores.ts).
    const cleanup = performance.now();
    await removeStores(roots);
    cleanupSeconds = (performance.now() - cleanup) / 1000;
  }
  const rsaKeygen = await rawRsaKeygenPerSecond(rsaCount);
  const perSecond = bulkReps.map((rep) => rep.perSecond);
  return {
    runs,
    bulkOnDisk: {
      count: big,
      reps: bulkReps.map(({ phases: _phases, diskReference: _reference, ...rep }) => rep),
      medianPerSecond: median(perSecond),
      minPerSecond: Math.min(...perSecond),
      maxPerSecond: Math.max(...perSecond),
      /** (max − min) / median of the repetitions. */
      spread: spread(perSecond),
      medianPerCpuSecond: median(bulkReps.map((rep) => rep.perCpuSecond)),
      diskReferencePerSecond: bulkReps.map((rep) => rep.diskReferencePerSecond),
      diskReferenceSpread: spread(bulkReps.map((rep) => rep.diskReferencePerSecond)),
      medianVsDiskReference: median(bulkReps.map((rep) => rep.vsDiskReference)),
      maxStallMs: Math.max(...bulkReps.map((rep) => rep.maxStallMs)),
      maxBusyMs: Math.max(...bulkReps.map((rep) => rep.maxBusyMs ?? Number.NaN)),
      storesSpreadOverBlockGroups: spreadDirs,
      /** Seconds to delete the two stores before the after-delete row, and all stores at the end. */
      deleteSeconds,
      cleanupSeconds,
      afterDelete: afterDelete && {
        perSecond: afterDelete.perSecond,
        perCpuSecond: afterDelete.perCpuSecond,
        diskReferencePerSecond: afterDelete.diskReferencePerSecond,
        vsDiskReference: afterDelete.vsDiskReference,
      },
    },
    /** Wall and CPU ms (every thread) per phase of each run (pki/issue-phases.ts). */
    phases: phaseRows.map(({ label, ...phases }) => ({
      label,
      ...Object.fromEntries(
        Object.entries(phases).map(([phase, time]) => [
          phase,
          `${time.wallMs.toFixed(0)}/${time.cpuMs.toFixed(0)}`,
        ]),
      ),
    })),
    diskReferences: [...bulkReps, ...(afterDelete ? [afterDelete] : [])].map((rep) => ({
      rep: rep.rep,
      ...rep.diskReference,
    })),
    references: { opensslEcdsaP256SignPerSecond: ecSpeed.sign, nodeRsa2048KeygenPerSecond: rsaKeygen },
    ratios: {
      ecBulkVsOpensslSign: median(perSecond) / ecSpeed.sign,
      ecBulkPerCpuSecondVsOpensslSign: median(bulkReps.map((rep) => rep.perCpuSecond)) / ecSpeed.sign,
      rsaVsRawKeygen: ratio(runs[2]!.perSecond, rsaKeygen),
    },
  };
}
