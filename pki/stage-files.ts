import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import type { StageFile } from './leaf-worker-protocol.ts';

/**
 * Writes each file to a fresh temporary name in its directory ('wx': never over anything; the mode from birth, so a
 * key is never readable by others, not even briefly). Synchronous: called by a leaf worker, or by the calling thread
 * for a chunk of a few identities. The name matches what recovery.ts removes after a crash.
 */
export function stageFilesSync(files: StageFile[]): string[] {
  const made = new Set<string>();
  return files.map((file) => {
    if (!made.has(file.dir)) {
      mkdirSync(file.dir, { recursive: true, mode: 0o755 });
      made.add(file.dir);
    }
    const temp = `${file.dir}/.${file.name}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(temp, 'wx', file.mode);
    try {
      writeSync(fd, file.data);
    } finally {
      closeSync(fd);
    }
    return temp;
  });
}

export function renameAllSync(renames: Array<[from: string, to: string]>): void {
  for (const [from, to] of renames) renameSync(from, to);
}
