/**
 * How far the broker's event loop is behind, now: TLS handshakes run inside the loop's read callbacks, so when they
 * are CPU-bound the loop lags and every handshake in flight waits that long again for its next step. A timer ticks
 * every `tickMs`; the lag is the worst delay of the recent ticks — or, in the middle of one long loop turn (a burst
 * of handshakes processed in one go), the time since the last tick, which no timer can report while it runs.
 *
 * Only the handshakes in flight care (admission.ts), so the timer runs only while there are some: `wake()` starts it
 * when a handshake begins, and it stops itself once `active()` has said "none in flight" for a whole window of ticks.
 * An idle broker is not woken 20 times a second for nothing; a stopped sampler reports 0 (nothing is waiting on the
 * loop), and a restarted one starts from a clean window.
 */
export interface LoopLag {
  /** Ms the loop is behind (0 when idle). */
  now(): number;
  /** Work the lag matters for has begun: sample, if not sampling already. */
  wake(): void;
  /** Whether the timer is running now. */
  sampling(): boolean;
  /** Stops for good (the broker shuts down): `wake` no longer starts it. */
  stop(): void;
}

export interface LoopLagOptions {
  tickMs?: number;
  windowTicks?: number;
  /** Whether anything the lag matters for is in flight; without it the sampler never stops once woken. */
  active?: () => boolean;
}

export function watchLoopLag(options: LoopLagOptions = {}): LoopLag {
  const tickMs = options.tickMs ?? 50;
  const windowTicks = options.windowTicks ?? 10;
  const active = options.active ?? (() => true);
  const recent = new Array<number>(windowTicks).fill(0);
  let index = 0;
  let last = 0;
  let idleTicks = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    const at = performance.now();
    recent[index] = Math.max(0, at - last - tickMs);
    index = (index + 1) % windowTicks;
    last = at;
    idleTicks = active() ? 0 : idleTicks + 1;
    if (idleTicks >= windowTicks) halt(); // a whole window without work in flight: its samples are all idle ones
  };
  const halt = () => {
    clearInterval(timer);
    timer = undefined;
  };
  return {
    now: () => (timer ? Math.round(Math.max(performance.now() - last - tickMs, ...recent)) : 0),
    wake() {
      if (timer || stopped) return;
      recent.fill(0);
      index = 0;
      idleTicks = 0;
      last = performance.now();
      timer = setInterval(tick, tickMs);
      timer.unref();
    },
    sampling: () => timer !== undefined,
    stop() {
      stopped = true;
      halt();
    },
  };
}
