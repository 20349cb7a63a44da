/** Tiny numeric helpers for the dashboard: a sparkline of recent readings and a per-second message rate. */

const BARS = '▁▂▃▄▅▆▇█';

/** Renders values as block characters scaled between their min and max; a flat series sits on the middle bar. */
export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-width);
  if (shown.length === 0) return '';
  const min = Math.min(...shown);
  const max = Math.max(...shown);
  const span = max - min;
  return shown
    .map((value) => {
      if (span === 0) return BARS[3];
      const index = Math.round(((value - min) / span) * (BARS.length - 1));
      return BARS[index];
    })
    .join('');
}

/** The first numeric field of a reading: what the sparkline follows (temperature, speed, power…). */
export function primaryValue(reading: Record<string, unknown>): number | undefined {
  for (const value of Object.values(reading)) {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return undefined;
}

/** Counts events per whole second over a short window; `perSecond` averages the complete seconds. */
export class RateCounter {
  private readonly counts: number[];
  private second = 0;

  constructor(private readonly windowSeconds = 5) {
    this.counts = new Array(windowSeconds + 1).fill(0);
  }

  add(at: number, n = 1): void {
    this.advance(Math.floor(at / 1000));
    this.counts[this.counts.length - 1] = (this.counts[this.counts.length - 1] ?? 0) + n;
  }

  /** Messages per second over the last complete seconds (the current, partial second is left out). */
  perSecond(now: number): number {
    this.advance(Math.floor(now / 1000));
    let sum = 0;
    for (let i = 0; i < this.counts.length - 1; i++) sum += this.counts[i] ?? 0;
    return sum / this.windowSeconds;
  }

  private advance(second: number): void {
    if (second <= this.second) return;
    const shift = Math.min(second - this.second, this.counts.length);
    this.counts.splice(0, shift);
    for (let i = 0; i < shift; i++) this.counts.push(0);
    this.second = second;
  }
}
