import { describe, expect, it } from 'vitest';
import { Backoff } from '../../devices/backoff.ts';

describe('backoff with jitter', () => {
  it('grows exponentially within [base/2, base], capped, and the same seed gives the same delays', () => {
    const delays = (seed: string) => {
      const backoff = new Backoff({ initialMs: 100, maxMs: 5_000, seed });
      return Array.from({ length: 12 }, () => backoff.next());
    };
    const a = delays('sensor-001');
    expect(a).toEqual(delays('sensor-001'));
    expect(a).not.toEqual(delays('sensor-002'));
    a.forEach((delay, attempt) => {
      const base = Math.min(5_000, 100 * 2 ** attempt);
      expect(delay).toBeGreaterThanOrEqual(base / 2);
      expect(delay).toBeLessThanOrEqual(base);
    });
    expect(Math.max(...a)).toBeLessThanOrEqual(5_000);
  });

  it('starts over after a success', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, seed: 1 });
    for (let index = 0; index < 6; index++) backoff.next();
    expect(backoff.attempts).toBe(6);
    backoff.reset();
    expect(backoff.next()).toBeLessThanOrEqual(100);
  });

  it('spreads a fleet: different devices do not retry in lockstep', () => {
    const firstDelays = Array.from({ length: 50 }, (_, index) =>
      new Backoff({ initialMs: 1_000, seed: `sensor-${index}` }).next(),
    );
    expect(new Set(firstDelays).size).toBeGreaterThan(40);
  });
});
