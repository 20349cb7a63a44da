/**
 * Runs one load generator (bench/loadgen/<name>.ts) in its own process. Protocol on its stdout: JSON lines,
 * `{"event":"measuring"}` when the measured window opens, `{"event":"measured"}` when it closes, then
 * `{"event":"result",…}`. The parent samples the broker's CPU time at the two marks.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from './brokers.ts';

export interface LoadgenMarks {
  onMeasuring?: () => void;
  onMeasured?: () => void;
  /** Any other event line (e.g. the hold generator's `stage`). */
  onEvent?: (message: { event: string } & Record<string, unknown>) => void;
}

export async function runLoadgen<T>(
  name: string,
  params: unknown,
  marks: LoadgenMarks = {},
  nodeArgs: string[] = [],
): Promise<T> {
  const paramsFile = join(tmpdir(), `certfleet-loadgen-${process.pid}-${Date.now()}.json`);
  await writeFile(paramsFile, JSON.stringify(params));
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', join(REPO, 'bench', 'loadgen', `${name}.ts`), paramsFile],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let result: T | undefined;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    if (!line.startsWith('{')) return;
    const message = JSON.parse(line) as { event: string };
    if (message.event === 'measuring') marks.onMeasuring?.();
    else if (message.event === 'measured') marks.onMeasured?.();
    else if (message.event === 'result') result = message as T;
    else marks.onEvent?.(message as { event: string } & Record<string, unknown>);
  });
  const code = await new Promise<number | null>((done) => child.once('close', (exitCode) => done(exitCode)));
  if (code !== 0 || result === undefined) throw new Error(`load generator ${name} failed (exit ${code})`);
  return result;
}
