import type { Random } from '../random.ts';
import { round } from '../random.ts';
import { dayFraction, HOUR_MS, type Reading, type SensorModel } from './types.ts';

/**
 * A smart electricity meter: power follows a household's daily load curve (morning and evening peaks) plus appliance
 * bursts; the energy counter integrates power and never goes backwards.
 */
export class MeterModel implements SensorModel {
  private readonly baseWatts: number;
  private energyKwh: number;
  private lastAt: number | undefined;
  private burstWatts = 0;

  constructor(private readonly random: Random) {
    this.baseWatts = random.between(150, 400);
    this.energyKwh = random.between(1000, 20000);
  }

  sample(at: number): Reading {
    const hours = this.lastAt === undefined ? 0 : Math.max(0, at - this.lastAt) / HOUR_MS;
    this.lastAt = at;
    const day = dayFraction(at);
    const peaks = 600 * bump(day, 7.5 / 24, 0.05) + 1200 * bump(day, 19 / 24, 0.07);
    // An appliance (kettle, oven) switches on now and then and decays away.
    this.burstWatts = this.random.chance(0.05) ? this.random.between(1000, 2500) : this.burstWatts * 0.5;
    const power = Math.max(0, this.baseWatts + peaks + this.burstWatts + this.random.gaussian() * 20);
    this.energyKwh += (power / 1000) * hours;
    return {
      power: round(power, 1),
      energy: round(this.energyKwh, 4),
      voltage: round(230 + this.random.gaussian() * 2, 1),
    };
  }
}

/** A bell curve over the day, peaking at `center` (day fraction) with width `width`. */
function bump(day: number, center: number, width: number): number {
  const distance = Math.min(Math.abs(day - center), 1 - Math.abs(day - center));
  return Math.exp(-((distance / width) ** 2));
}
