import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** A fresh state directory under the OS temp dir; the returned function deletes it. */
export async function makeStateDir(
  prefix = 'certfleet-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs a command and returns its exit code and output, whatever the exit code. */
export async function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      env: options.env ?? process.env,
      timeout: options.timeout ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof failure.code === 'number' ? failure.code : -1,
      stdout: failure.stdout ?? '',
      stderr: failure.stderr ?? '',
    };
  }
}

export const CERTFLEET = join(import.meta.dirname, '..', '..', 'bin', 'certfleet.js');

export function certfleet(
  stateDir: string,
  args: string[],
  options: { timeout?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CERTFLEET, '--state-dir', stateDir, ...args], options);
}
