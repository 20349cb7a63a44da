/**
 * Optional measurement (CERTFLEET_UI_TRACE=<file>): keystroke-to-repaint latency (a key arriving on stdin → the
 * next frame written to stdout) and the UI thread's CPU time, written as JSON when the dashboard stops. Used by
 * bench/ui-responsiveness.ts; costs nothing when the variable is unset.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface UiTrace {
  latenciesMs: number[];
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

export function startTrace(file: string | undefined): { mark: () => void; stop: () => void } {
  if (!file) return { mark: () => {}, stop: () => {} };
  const latencies: number[] = [];
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
  let start = { ui: 0, process: 0, wall: 0 };
  return {
    /** Starts the CPU window (call once the fleet is up). */
    mark() {
      latencies.length = 0;
      const usage = process.cpuUsage();
      start = {
        ui: mainThreadCpuSeconds(),
        process: (usage.user + usage.system) / 1e6,
        wall: performance.now(),
      };
    },
    stop() {
      process.stdin.off('data', onKey);
      process.stdout.write = write;
      const usage = process.cpuUsage();
      const trace: UiTrace = {
        latenciesMs: latencies,
        uiThreadCpuSeconds: mainThreadCpuSeconds() - start.ui,
        processCpuSeconds: (usage.user + usage.system) / 1e6 - start.process,
        wallSeconds: (performance.now() - start.wall) / 1000,
      };
      writeFileSync(file, JSON.stringify(trace));
    },
  };
}
