/**
 * Alternating runs against several brokers and the medians of what they measured: run i goes A, B, … and run i+1
 * goes …, B, A, so that a slow minute on the machine does not fall on one broker only.
 */
import { median } from './stats.ts';

export function alternatingOrder<T>(items: readonly T[], repetition: number): T[] {
  return repetition % 2 === 0 ? [...items] : [...items].reverse();
}

/** Median of every numeric field over the samples (non-numeric fields taken from the first sample). */
export function medianOf<T extends object>(samples: readonly T[]): T {
  const first = (samples[0] ?? {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(first).map(([key, value]) =>
      typeof value === 'number'
        ? [key, median(samples.map((s) => (s as Record<string, unknown>)[key] as number))]
        : [key, value],
    ),
  ) as T;
}

/** (max − min) / median of one field over the samples, in percent: how much the repeated runs disagreed. */
export function spreadPercent<T extends object>(samples: readonly T[], field: keyof T & string): number {
  const values = samples.map((s) => (s as Record<string, unknown>)[field] as number);
  if (values.length < 2) return 0;
  return (100 * (Math.max(...values) - Math.min(...values))) / median(values);
}
