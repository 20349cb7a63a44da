import type { Random } from '../random.ts';
import { round } from '../random.ts';
import { HOUR_MS } from './types.ts';

/**
 * A battery that drains with time and with every transmission, then sits empty. Voltage follows the charge roughly
 * like a Li-ion cell (4.2 V full, 3.3 V empty).
 */
export class Battery {
  private percent: number;
  private lastAt: number | undefined;

  constructor(
    random: Random,
    private readonly drainPerHour = 0.05,
    private readonly drainPerSample = 0.002,
  ) {
    this.percent = random.between(60, 100);
  }

  sample(at: number): { battery: number; voltage: number } {
    const hours = this.lastAt === undefined ? 0 : Math.max(0, at - this.lastAt) / HOUR_MS;
    this.lastAt = at;
    this.percent = Math.max(0, this.percent - hours * this.drainPerHour - this.drainPerSample);
    return { battery: round(this.percent, 2), voltage: round(3.3 + 0.9 * (this.percent / 100), 3) };
  }
}
