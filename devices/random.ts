/**
 * Seeded randomness: every model, fault and backoff draws from its own stream so that the same seed always gives the
 * same data, whatever the other devices do.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  between(min: number, max: number): number;
  /** Standard normal (mean 0, sd 1), Box–Muller. */
  gaussian(): number;
  /** True with probability p. */
  chance(p: number): boolean;
}

/** Hashes a string seed (e.g. "sensor-001") into 32 bits: FNV-1a. */
export function hashSeed(seed: string | number): number {
  const text = String(seed);
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: tiny, fast, and good enough for simulated sensors (not for cryptography). */
export function createRandom(seed: string | number): Random {
  return new Mulberry32(hashSeed(seed));
}

/**
 * A class, not an object of closures: every device holds three streams (model, faults, backoff), and closures built
 * per stream cost ~1.3 KiB each in a fleet worker (a context, and under tsx each named function gets its own property
 * store for its `name`); methods on the prototype cost nothing per stream.
 */
class Mulberry32 implements Random {
  constructor(private state: number) {}

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  gaussian(): number {
    const u = Math.max(this.next(), Number.EPSILON);
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Rounds to a fixed number of decimals, so payloads stay short and comparisons exact. */
export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
