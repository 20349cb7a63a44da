/**
 * How far the broker's event loop is behind, now: TLS handshakes run inside the loop's read callbacks, so when they
 * are CPU-bound the loop lags and every handshake in flight waits that long again for its next step. A timer ticks
 * every `tickMs`; the lag is the worst delay of the recent ticks — or, in the middle of one long loop turn (a burst
 * of handshakes processed in one go), the time since the last tick, which no timer can report while it runs.
 */
export interface LoopLag {
  /** Ms the loop is behind (0 when idle). */
  now(): number;
  stop(): void;
}

export function watchLoopLag(tickMs = 50, windowTicks = 10): LoopLag {
  const recent = new Array<number>(windowTicks).fill(0);
  let index = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const at = performance.now();
    recent[index] = Math.max(0, at - last - tickMs);
    index = (index + 1) % windowTicks;
    last = at;
  }, tickMs);
  timer.unref();
  return {
    now: () => Math.round(Math.max(performance.now() - last - tickMs, ...recent)),
    stop: () => clearInterval(timer),
  };
}
