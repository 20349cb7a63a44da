import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode, applied when the temporary file is created: a key is never readable by others, not even briefly. */
  mode?: number;
  /** Skip creating the parent directory when the caller already did (saves a syscall per file in bulk writes). */
  parentExists?: boolean;
}

/**
 * Writes a file so that readers see either the old content or the new, never a half-written one:
 * the data goes to a temporary file in the same directory, is flushed to disk, then renamed over the target.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions | number = {},
): Promise<void> {
  const { mode = 0o644, parentExists = false } = typeof options === 'number' ? { mode: options } : options;
  if (!parentExists) await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, path);
}
