/**
 * A connection-rate cap: hands out connection slots no closer together than 1/rate seconds, so a thousand devices
 * (or a thousand reconnects after a broker restart) do not start a handshake storm.
 */
export class RateGate {
  private nextSlotAt = 0;
  private readonly spacingMs: number;

  constructor(ratePerSecond: number) {
    this.spacingMs = ratePerSecond > 0 && Number.isFinite(ratePerSecond) ? 1000 / ratePerSecond : 0;
  }

  /** Resolves when this caller may start connecting. */
  acquire(): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, this.nextSlotAt);
    this.nextSlotAt = slot + this.spacingMs;
    const wait = slot - now;
    return wait <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, wait));
  }
}
