/**
 * How late this process's timers fire while a test waits. A bound on when a timer of code running in this process
 * (an in-process broker's expiry cut, say) fires must allow for it: on a machine whose cores are shared many times
 * over, every timer of the process is late by as much — and that measures the machine, not the code.
 */
export interface TimerLateness {
  /** The most a tick was late, in ms, since the watch began. */
  worst(): number;
  stop(): void;
}

export function watchTimerLateness(tickMs = 50): TimerLateness {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - tickMs);
    last = now;
  }, tickMs);
  timer.unref();
  return { worst: () => Math.round(worst), stop: () => clearInterval(timer) };
}
