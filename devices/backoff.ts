import { createRandom, type Random } from './random.ts';

export interface BackoffOptions {
  /** First delay, ms. */
  initialMs?: number;
  /** Cap on any delay, ms. */
  maxMs?: number;
  factor?: number;
  /** Seed of the jitter, so a run is reproducible. */
  seed?: string | number;
}

/**
 * Exponential backoff with "full jitter" (AWS architecture blog): the delay is uniform in [base/2, base] where base
 * doubles per failure up to the cap. Jitter spreads a fleet's reconnects after a broker restart.
 */
export class Backoff {
  private failures = 0;
  private readonly random: Random;
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.random = createRandom(`backoff:${options.seed ?? 0}`);
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures);
    this.failures++;
    return Math.round(base / 2 + this.random.next() * (base / 2));
  }

  /** After a successful connection. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
