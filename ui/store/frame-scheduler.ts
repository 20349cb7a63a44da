/**
 * Tells listeners about changes at most once per frame: the first change after a quiet frame goes out at once, the
 * rest of a busy frame is coalesced into one notification at the frame's end.
 */
export class FrameScheduler {
  /** When listeners were last told (ms): a periodic clock can skip its tick if a frame just happened. */
  lastNotify = 0;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The current frame length (it may grow with the fleet). */
    private readonly frameMs: () => number,
    private readonly now: () => number,
  ) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  request(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastNotify + this.frameMs() - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastNotify = this.now();
      for (const listener of this.listeners) listener();
    }, wait);
    this.timer.unref?.();
  }

  /**
   * A repaint just happened for another reason (a key): it showed the latest data, so the next data-driven one waits a
   * full frame from now. Keeps data frames from queueing in front of the next keystroke's.
   */
  repainted(): void {
    this.lastNotify = this.now();
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.request();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
