/**
 * What the disk alone costs for a bulk issue's files, measured beside it: the same directories and files (a folder
 * and three small files per identity, of an EC identity's sizes), written by one thread with the same protocol as
 * pki/identity-batch.ts — every file to a temporary name, one syncfs (`sync -f`), the renames, one more syncfs — and
 * no cryptography. A bulk rate that falls with this one is the disk's; a gap that grows against it is ours.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Sizes of an EC P-256 identity's files (key PEM, certificate PEM, chain PEM), bytes. */
const FILE_SIZES = [241, 757, 1_483] as const;
const NAMES = ['key.pem', 'cert.pem', 'chain.pem'] as const;

export interface DiskReference {
  count: number;
  seconds: number;
  perSecond: number;
  cpuSeconds: number;
  /** Wall ms: creating folders and temporaries, the first syncfs, the renames, the second syncfs. */
  phases: { create: number; syncFiles: number; rename: number; syncRenames: number };
}

function syncfs(path: string): void {
  execFileSync('sync', ['-f', path], { stdio: 'ignore' });
}

/** Writes `count` identities' worth of files under `dir` (which must not exist yet). Blocks this thread. */
export function measureDiskReference(dir: string, count: number): DiskReference {
  const bodies = FILE_SIZES.map((size) => Buffer.alloc(size, 0x41));
  const started = performance.now();
  const cpu = process.cpuUsage();
  mkdirSync(dir, { recursive: true });
  const renames: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    const identity = join(dir, `id-${i}`);
    mkdirSync(identity);
    NAMES.forEach((name, k) => {
      const temp = `${identity}/.${name}.tmp`;
      const fd = openSync(temp, 'wx', k === 0 ? 0o600 : 0o644);
      writeSync(fd, bodies[k]!);
      closeSync(fd);
      renames.push([temp, `${identity}/${name}`]);
    });
  }
  const created = performance.now();
  syncfs(dir);
  const synced = performance.now();
  for (const [from, to] of renames) renameSync(from, to);
  const renamed = performance.now();
  syncfs(dir);
  const done = performance.now();
  const used = process.cpuUsage(cpu);
  const seconds = (done - started) / 1000;
  return {
    count,
    seconds,
    perSecond: count / seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    phases: {
      create: created - started,
      syncFiles: synced - created,
      rename: renamed - synced,
      syncRenames: done - renamed,
    },
  };
}

/** Dirty and Writeback from /proc/meminfo, kB (data waiting to be written back, and being written): null elsewhere. */
export function dirtyPages(): { dirtyKb: number; writebackKb: number } | null {
  try {
    const text = readFileSync('/proc/meminfo', 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { dirtyKb: field('Dirty'), writebackKb: field('Writeback') };
  } catch {
    return null;
  }
}
