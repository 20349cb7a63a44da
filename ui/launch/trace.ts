/**
 * Optional measurement (CERTFLEET_UI_TRACE=<file>): keystroke-to-repaint latency (from when the UI thread reads a
 * key off stdin to the next frame written to stdout), Ink's render time per frame, and the UI thread's CPU time,
 * written as JSON when the dashboard stops. SIGUSR2 restarts the window. Used by
 * bench/ui-responsiveness.ts; costs nothing when the variable is unset.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface UiTrace {
  latenciesMs: number[];
  /** Ink's render time of every frame in the window, ms. */
  framesMs: number[];
  /** Main (UI) thread CPU seconds, from /proc/self/task/<pid>/stat, sampled at start and stop. */
  uiThreadCpuSeconds: number;
  processCpuSeconds: number;
  wallSeconds: number;
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

export function startTrace(file: string | undefined): Trace {
  if (!file) return { mark: () => {}, frame: () => {}, stop: () => {} };
  const latencies: number[] = [];
  const frames: number[] = [];
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
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  let start = { ui: 0, process: 0, wall: performance.now() };
  const trace: Trace = {
    /** Starts the measurement window again (the bench sends SIGUSR2 once every device is online). */
    mark() {
      latencies.length = 0;
      frames.length = 0;
      const usage = process.cpuUsage();
      start = {
        ui: mainThreadCpuSeconds(),
        process: (usage.user + usage.system) / 1e6,
        wall: performance.now(),
      };
    },
    frame(renderTimeMs) {
      frames.push(renderTimeMs);
    },
    stop() {
      process.stdin.off('data', onKey);
      process.stdout.write = write;
      const usage = process.cpuUsage();
      const result: UiTrace = {
        latenciesMs: latencies,
        framesMs: frames,
        uiThreadCpuSeconds: mainThreadCpuSeconds() - start.ui,
        processCpuSeconds: (usage.user + usage.system) / 1e6 - start.process,
        wallSeconds: (performance.now() - start.wall) / 1000,
      };
      writeFileSync(file, JSON.stringify(result));
    },
  };
  process.on('SIGUSR2', () => trace.mark());
  return trace;
}
