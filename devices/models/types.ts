/** What every sensor model offers: a reading for a moment in (simulated) time. Same seed + same times → same data. */
export type Reading = Record<string, number | string | boolean>;

export interface SensorModel {
  /** Advances the model's state to `at` (epoch ms, non-decreasing) and returns the reading there. */
  sample(at: number): Reading;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Fraction of the (UTC) day at `at`, 0..1. */
export function dayFraction(at: number): number {
  return (((at % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
}
