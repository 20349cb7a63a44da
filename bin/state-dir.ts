/**
 * Checks a state directory before any command uses it. Without this, a path that is a file surfaces as an
 * ENOTDIR stack from deep inside the PKI, and a path under /proc makes Node's recursive mkdir loop forever
 * (it keeps retrying ENOENT), which looked like a hang at full CPU.
 */
import { closeSync, mkdirSync, openSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../core/user-error.ts';

const HINT = 'Pass a writable directory with --state-dir DIR (or set CERTFLEET_HOME).';

function kindOf(path: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the file system is read-only',
    ENOENT: 'files cannot be created there',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
  };
  return (code && words[code]) ?? (error as Error)?.message ?? String(error);
}

/**
 * Throws a UserError unless `stateDir` is (or can become) a directory we can write. Creates nothing: when the
 * directory does not exist yet, its nearest existing parent must be a writable directory.
 */
export function checkStateDir(stateDir: string): void {
  let existing = stateDir;
  while (kindOf(existing) === 'missing' && dirname(existing) !== existing) existing = dirname(existing);
  const kind = kindOf(existing);
  if (kind !== 'directory') {
    throw new UserError(
      `cannot use state directory ${stateDir}`,
      existing === stateDir ? 'it is a file, not a directory' : `${existing} is not a directory`,
      HINT,
    );
  }
  // Access checks lie for root and on special file systems (/proc, read-only mounts): really create something.
  const probe = join(existing, `.certfleet-probe-${process.pid}`);
  try {
    if (existing === stateDir) {
      closeSync(openSync(probe, 'wx', 0o600));
      unlinkSync(probe);
    } else {
      mkdirSync(probe);
      rmdirSync(probe);
    }
  } catch (error) {
    throw new UserError(`cannot write state directory ${stateDir}`, why(error), HINT);
  }
}
