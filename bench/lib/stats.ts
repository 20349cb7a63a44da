/** The arithmetic of the report: medians over repeated runs, percentiles over latency samples, ratios. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile (p in 0–100) of unsorted samples: the smallest value with p% of samples at or below. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** a / b, NaN when either is missing or b is 0 (a ratio of nothing is not 0). */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
}

/** Keeps at most `capacity` samples, uniformly chosen (reservoir sampling), so long runs stay bounded in memory. */
export class Reservoir {
  readonly samples: number[] = [];
  private seen = 0;

  constructor(private readonly capacity = 200_000) {}

  add(value: number): void {
    this.seen++;
    if (this.samples.length < this.capacity) this.samples.push(value);
    else {
      const slot = Math.floor(Math.random() * this.seen);
      if (slot < this.capacity) this.samples[slot] = value;
    }
  }
}
