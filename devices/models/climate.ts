import type { Random } from '../random.ts';
import { round } from '../random.ts';
import { Battery } from './battery.ts';
import { dayFraction, HOUR_MS, type Reading, type SensorModel } from './types.ts';

/**
 * Indoor/outdoor climate: temperature follows a daily cycle (coolest near 05:00, warmest near 15:00), drifts slowly as
 * a random walk, and carries sensor noise; relative humidity moves against temperature.
 */
export class ClimateModel implements SensorModel {
  private readonly baseCelsius: number;
  private readonly amplitude: number;
  private drift = 0;
  private lastAt: number | undefined;
  private readonly battery: Battery;

  constructor(private readonly random: Random) {
    this.baseCelsius = random.between(16, 24);
    this.amplitude = random.between(2, 6);
    this.battery = new Battery(random);
  }

  sample(at: number): Reading {
    const hours = this.lastAt === undefined ? 0 : Math.max(0, at - this.lastAt) / HOUR_MS;
    this.lastAt = at;
    // Random walk scaled by sqrt(time) so drift does not depend on the sampling interval; pulled back towards 0.
    this.drift = this.drift * 0.999 + this.random.gaussian() * 0.3 * Math.sqrt(hours);
    const cycle = Math.sin(2 * Math.PI * (dayFraction(at) - 9 / 24));
    const temperature = this.baseCelsius + this.amplitude * cycle + this.drift + this.random.gaussian() * 0.1;
    const humidity = Math.min(
      100,
      Math.max(5, 55 - 2.5 * (temperature - this.baseCelsius) + this.random.gaussian()),
    );
    return { temperature: round(temperature, 2), humidity: round(humidity, 1), ...this.battery.sample(at) };
  }
}
