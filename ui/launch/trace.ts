/**
 * Optional measurement (CERTFLEET_UI_TRACE=<file>): keystroke-to-repaint latency (from when the UI thread reads a
 * key off stdin to the next frame written to stdout), Ink's render time per frame, bytes written, the UI thread's CPU
 * time and the process's memory. SIGUSR2 closes the current window (written to `<file>.<n>`, n = 1, 2…) and opens a
 * new one; the last window is written to `<file>` when the dashboard stops. Used by bench/ui-responsiveness.ts;
 * costs nothing when the variable is unset.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

export interface UiTrace {
  latenciesMs: number[];
  /** Ink's render time of every frame in the window, ms. */
  framesMs: number[];
  /** What went to the terminal in the window: writes and bytes. */
  writes: number;
  bytesWritten: number;
  /** Main (UI) thread CPU seconds, from /proc/self/task/<pid>/stat, sampled at start and stop. */
  uiThreadCpuSeconds: number;
  processCpuSeconds: number;
  wallSeconds: number;
  /** Whole process resident set (UI + fleet worker threads), and the UI thread's own V8 heap, MB at the end. */
  rssMB: number;
  uiHeapMB: number;
}

function mainThreadCpuSeconds(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export interface Trace {
  mark(): void;
  frame(renderTimeMs: number): void;
  stop(): void;
}

const MB = 1024 * 1024;

export function startTrace(file: string | undefined): Trace {
  if (!file) return { mark: () => {}, frame: () => {}, stop: () => {} };
  const latencies: number[] = [];
  const frames: number[] = [];
  let writes = 0;
  let bytes = 0;
  let windows = 0;
  let keyAt: number | undefined;
  const onKey = () => {
    keyAt ??= performance.now();
  };
  process.stdin.prependListener('data', onKey);
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (keyAt !== undefined) {
      latencies.push(performance.now() - keyAt);
      keyAt = undefined;
    }
    writes++;
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : ((chunk as Uint8Array)?.length ?? 0);
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  const sample = () => {
    const usage = process.cpuUsage();
    return {
      ui: mainThreadCpuSeconds(),
      process: (usage.user + usage.system) / 1e6,
      wall: performance.now(),
    };
  };
  let start = sample();
  const result = (): UiTrace => {
    const end = sample();
    return {
      latenciesMs: [...latencies],
      framesMs: [...frames],
      writes,
      bytesWritten: bytes,
      uiThreadCpuSeconds: end.ui - start.ui,
      processCpuSeconds: end.process - start.process,
      wallSeconds: (end.wall - start.wall) / 1000,
      rssMB: process.memoryUsage.rss() / MB,
      uiHeapMB: getHeapStatistics().total_physical_size / MB,
    };
  };
  const trace: Trace = {
    /** Closes the window (the bench sends SIGUSR2 between phases) and opens the next. */
    mark() {
      if (windows > 0) writeFileSync(`${file}.${windows}`, JSON.stringify(result()));
      windows++;
      latencies.length = 0;
      frames.length = 0;
      writes = 0;
      bytes = 0;
      keyAt = undefined;
      start = sample();
    },
    frame(renderTimeMs) {
      frames.push(renderTimeMs);
    },
    stop() {
      process.stdin.off('data', onKey);
      process.stdout.write = write;
      writeFileSync(file, JSON.stringify(result()));
    },
  };
  process.on('SIGUSR2', () => trace.mark());
  return trace;
}
