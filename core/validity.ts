/**
 * Certificate lifetimes as a person writes them: `45s`, `10m`, `12h`, `30d` (a bare number means days, as `--days`
 * always did). Short lifetimes exist so that expiry and rotation can be watched happening, live.
 */
import { UserError } from './user-error.ts';

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The shortest certificate worth issuing: a TLS handshake and a CONNECT fit in it on a busy machine. */
export const MIN_VALIDITY_MS = 2_000;
export const MAX_VALIDITY_MS = 3650 * UNIT_MS.d!;

/** "45s" | "10m" | "12h" | "30d" | "30" (days) → milliseconds; a UserError names the flag otherwise. */
export function parseValidity(text: string, flag = '--validity'): number {
  const match = /^\s*(\d+)\s*([smhd])?\s*$/.exec(text);
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? 'd']! : Number.NaN;
  if (!match || !Number.isSafeInteger(ms)) {
    throw new UserError(
      `invalid ${flag}`,
      `"${text}" is not a lifetime`,
      'Use a whole number with a unit: 45s, 10m, 12h or 30d.',
    );
  }
  if (ms < MIN_VALIDITY_MS || ms > MAX_VALIDITY_MS) {
    throw new UserError(
      `invalid ${flag}`,
      `"${text}" is outside 2s–3650d`,
      'A certificate must outlive its own handshake and expire within ten years.',
    );
  }
  return ms;
}

/** 20000 → "20s", 86400000 → "1d": the largest unit that divides it. */
export function formatValidity(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  }
  return `${ms}ms`;
}
