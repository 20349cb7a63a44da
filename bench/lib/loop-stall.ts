/**
 * How long the event loop was held, split into what this thread did and what the machine did to it. A timer ticks
 * every few ms; between two ticks, the wall-clock gap is the stall a user feels, and the thread's own run time
 * (/proc/thread-self/schedstat, ns) is the part our code spent — the rest is the thread waiting for a core. On a
 * loaded 2-core machine the gap is mostly waiting; the run time is what a change to our code can reduce.
 */
import { readFileSync } from 'node:fs';

const TICK_MS = 5;

function runNs(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

export interface LoopStall {
  /** Longest gap between two ticks beyond the tick, ms: what a UI on this event loop would have felt. */
  maxStallMs: number;
  /** Most CPU this thread ran between two ticks, ms (null where schedstat is missing): the stall our code caused. */
  maxBusyMs: number | null;
}

export async function measureLoopStall(work: () => Promise<unknown>): Promise<LoopStall> {
  let last = performance.now();
  let lastRun = runNs();
  let maxStallMs = 0;
  let maxBusyMs = lastRun === null ? null : 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const run = runNs();
    maxStallMs = Math.max(maxStallMs, now - last - TICK_MS);
    if (run !== null && lastRun !== null && maxBusyMs !== null)
      maxBusyMs = Math.max(maxBusyMs, (run - lastRun) / 1e6);
    last = now;
    lastRun = run;
  }, TICK_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { maxStallMs, maxBusyMs };
}
