/** The arithmetic behind every figure in BENCHMARKS.md: medians, percentiles, ratios, alternation, spread. */
import { describe, expect, it } from 'vitest';
import { handshakeCeiling, serverOperations } from '../../bench/lib/ceiling.ts';
import { alternatingOrder, medianOf, spreadPercent } from '../../bench/lib/compare.ts';
import { median, percentile, Reservoir, ratio } from '../../bench/lib/stats.ts';

describe('median', () => {
  it('takes the middle of an odd count and the mean of the two middles of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
  it('gives the smallest value with p% of samples at or below it', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('ratio', () => {
  it('is NaN when there is nothing to compare', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 2)).toBeNaN();
  });
});

describe('Reservoir', () => {
  it('keeps every sample up to its capacity, then exactly capacity of them', () => {
    const small = new Reservoir(10);
    for (let i = 0; i < 5; i++) small.add(i);
    expect(small.samples).toEqual([0, 1, 2, 3, 4]);
    const full = new Reservoir(10);
    for (let i = 0; i < 10_000; i++) full.add(i);
    expect(full.samples).toHaveLength(10);
    expect(full.samples.every((v) => v >= 0 && v < 10_000)).toBe(true);
  });
});

describe('alternating runs', () => {
  it('reverses the broker order on every other repetition', () => {
    expect(alternatingOrder(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(alternatingOrder(['a', 'b', 'c'], 1)).toEqual(['c', 'b', 'a']);
  });

  it('takes the median of every numeric field and keeps the labels', () => {
    const samples = [
      { broker: 'x', rate: 10, p99: 5 },
      { broker: 'x', rate: 30, p99: 1 },
      { broker: 'x', rate: 20, p99: 3 },
    ];
    expect(medianOf(samples)).toEqual({ broker: 'x', rate: 20, p99: 3 });
    expect(spreadPercent(samples, 'rate')).toBe(100); // (30 − 10) / 20
    expect(spreadPercent([samples[0]!], 'rate')).toBe(0);
  });
});

describe('handshake ceiling', () => {
  it('prices the public-key operations of one handshake', () => {
    // 1000 of everything per second: EC devices need 1 + 2 + 3 + 3 = 9 operations per handshake
    const speeds = {
      ecdsaP256: { sign: 1000, verify: 1000 },
      rsa2048: { sign: 1000, verify: 1000 },
      rsa3072: { sign: 1000, verify: 1000 },
      x25519: 1000,
    };
    const ecOps = Object.values(serverOperations('ec')).reduce((a, b) => a + b, 0);
    expect(ecOps).toBe(9);
    expect(handshakeCeiling(speeds, 'ec')).toBeCloseTo(1000 / 9);
    expect(handshakeCeiling(speeds, 'rsa')).toBeCloseTo(1000 / 9); // one ECDSA verify becomes one RSA verify
  });
});
