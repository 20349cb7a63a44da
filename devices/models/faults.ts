import type { Random } from '../random.ts';
import type { Reading, SensorModel } from './types.ts';

/** Per-device fault injection: probabilities per sample. */
export interface FaultConfig {
  /** Chance that the sensor freezes and repeats its last values (for `stuckSamples` samples). */
  stuck?: number;
  stuckSamples?: number;
  /** Chance that one numeric value jumps by a large factor for one sample. */
  spike?: number;
  /** Chance that a sample is lost (nothing is published). */
  dropout?: number;
}

export const NO_FAULTS: FaultConfig = {};

/**
 * Wraps a model with faults. `sample` returns null for a dropout. The faults use their own random stream so that
 * turning them on does not change the underlying model's data.
 */
export class FaultyModel {
  private stuckLeft = 0;
  private last: Reading | undefined;

  constructor(
    private readonly model: SensorModel,
    private readonly faults: FaultConfig,
    private readonly random: Random,
  ) {}

  sample(at: number): { reading: Reading; fault?: 'stuck' | 'spike' } | null {
    const fresh = this.model.sample(at);
    if (this.random.chance(this.faults.dropout ?? 0)) return null;
    if (this.stuckLeft === 0 && this.last && this.random.chance(this.faults.stuck ?? 0)) {
      this.stuckLeft = this.faults.stuckSamples ?? 5;
    }
    if (this.stuckLeft > 0 && this.last) {
      this.stuckLeft--;
      return { reading: { ...this.last }, fault: 'stuck' };
    }
    this.last = fresh;
    if (this.random.chance(this.faults.spike ?? 0)) {
      const numeric = Object.keys(fresh).filter((key) => typeof fresh[key] === 'number');
      const key = numeric[Math.floor(this.random.next() * numeric.length)];
      if (key !== undefined) {
        const factor = this.random.chance(0.5) ? this.random.between(3, 10) : -this.random.between(3, 10);
        return { reading: { ...fresh, [key]: (fresh[key] as number) * factor }, fault: 'spike' };
      }
    }
    return { reading: fresh };
  }
}
