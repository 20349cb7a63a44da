/**
 * The cross-process lock around every write to the PKI store (index, CRLs, identity files).
 *
 * proper-lockfile keeps a lock directory fresh while its holder lives and treats it as stale 10 s after the holder
 * stops refreshing it. A holder killed with SIGKILL would make the next command wait those 10 s in silence, so the
 * holder also records its pid next to the lock; a waiter that finds the recorded holder dead (same host) ages the lock
 * at once and proper-lockfile then takes it over through its own stale-lock path.
 */
import { access, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import lockfile from 'proper-lockfile';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../core/user-error.ts';
import type { PkiLayout } from './types.ts';

const STALE_MS = 10_000;
const WAIT_LIMIT_MS = 120_000;

interface Owner {
  pid: number;
  host: string;
  /** Identity of the lock directory this owner made: a later holder's directory is never broken on its behalf. */
  lock: string;
}

const lockDirOf = (layout: PkiLayout) => `${layout.lockTarget}.lock`;
const ownerFileOf = (layout: PkiLayout) => `${layout.lockTarget}.lock-owner`;

async function lockIdentity(layout: PkiLayout): Promise<string | null> {
  try {
    const s = await stat(lockDirOf(layout));
    return `${s.ino}:${s.birthtimeMs}`;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Ages the lock when its recorded holder is a process of this host that no longer exists. */
async function breakIfOwnerDead(layout: PkiLayout): Promise<void> {
  let owner: Owner;
  try {
    owner = JSON.parse(await readFile(ownerFileOf(layout), 'utf8')) as Owner;
  } catch {
    return; // no owner recorded (yet): leave it to proper-lockfile's staleness rule
  }
  if (owner.host !== hostname() || isAlive(owner.pid)) return;
  if ((await lockIdentity(layout)) !== owner.lock) return; // a new holder took it since
  await utimes(lockDirOf(layout), new Date(0), new Date(0)).catch(() => undefined);
}

async function acquire(layout: PkiLayout): Promise<() => Promise<void>> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await lockfile.lock(layout.lockTarget, { realpath: false, stale: STALE_MS, retries: 0 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED' || Date.now() > deadline) throw error;
      await breakIfOwnerDead(layout);
      await sleep(Math.min(100, 10 * 1.3 ** attempt));
    }
  }
}

/**
 * Runs `change` while holding the PKI lock, so concurrent `certfleet pki …` processes never interleave their
 * read-modify-write of the index and CRLs.
 */
export async function withPkiLock<T>(layout: PkiLayout, change: () => Promise<T>): Promise<T> {
  // proper-lockfile retries every error, so a missing state dir would look like a held lock for a minute.
  await access(layout.stateDir).catch(() => {
    throw new UserError(
      'no certificate authority',
      `${layout.stateDir} does not exist`,
      'Run `certfleet pki init` first.',
    );
  });
  const release = await acquire(layout);
  const owner: Owner = { pid: process.pid, host: hostname(), lock: (await lockIdentity(layout)) ?? '' };
  await writeFile(ownerFileOf(layout), JSON.stringify(owner));
  try {
    return await change();
  } finally {
    await rm(ownerFileOf(layout), { force: true });
    await release();
  }
}
