import { UserError } from './user-error.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** "30s", "2m", "500ms", "1h", or a bare number of seconds → milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) {
    throw new UserError(`invalid ${what}`, `"${text}" is not a duration`, 'Use e.g. 30s, 2m, 500ms or 1h.');
  }
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1_000));
}
