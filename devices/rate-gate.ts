/**
 * A connection-rate cap: hands out connection slots no closer together than 1/rate seconds, so a thousand devices
 * (or a thousand reconnects after a broker restart) do not start a handshake storm.
 *
 * And a cap on handshakes in flight: half a second's worth of the rate. A fleet that dials faster than it (or the
 * broker) can finish handshakes only grows its backlog, every handshake in it slows down, and past the broker's
 * deadline all of them fail together — the collapse of issue 17's scale run at 250 dials/s on a loaded machine.
 * With the cap, the dial rate falls to what completes: a slot is handed on when a handshake ends, either way.
 */
export class RateGate {
  private nextSlotAt = 0;
  private readonly spacingMs: number;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  readonly maxInFlight: number;

  constructor(ratePerSecond: number, maxInFlight?: number) {
    const limited = ratePerSecond > 0 && Number.isFinite(ratePerSecond);
    this.spacingMs = limited ? 1000 / ratePerSecond : 0;
    this.maxInFlight =
      maxInFlight ?? (limited ? Math.max(4, Math.ceil(ratePerSecond / 2)) : Number.POSITIVE_INFINITY);
  }

  /** Resolves when this caller may start connecting; it then owes one `release()` when its handshake is over. */
  async acquire(): Promise<void> {
    if (this.inFlight < this.maxInFlight) this.inFlight++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over in release()
    const now = Date.now();
    const slot = Math.max(now, this.nextSlotAt);
    this.nextSlotAt = slot + this.spacingMs;
    const wait = slot - now;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** The handshake that `acquire` let start is over (online, failed or abandoned). */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Handshakes started and not yet over. */
  get active(): number {
    return this.inFlight;
  }
}
