import type { Random } from '../random.ts';
import { Battery } from './battery.ts';
import { dayFraction, type Reading, type SensorModel } from './types.ts';

/**
 * A door contact with a motion detector: door openings and motion arrive as Poisson events, more often by day. Each
 * sample reports the current state and how many events happened since the last one.
 */
export class DoorModel implements SensorModel {
  private open = false;
  private openings = 0;
  private lastAt: number | undefined;
  private readonly eventsPerHour: number;
  private readonly battery: Battery;

  constructor(private readonly random: Random) {
    this.eventsPerHour = random.between(2, 20);
    this.battery = new Battery(random, 0.01);
  }

  sample(at: number): Reading {
    const seconds = this.lastAt === undefined ? 0 : Math.max(0, at - this.lastAt) / 1000;
    this.lastAt = at;
    const daytime = Math.sin(Math.PI * dayFraction(at)) ** 2;
    const expected = (this.eventsPerHour * (0.2 + daytime) * seconds) / 3600;
    const events = poisson(this.random.next.bind(this.random), expected);
    this.openings += events;
    // An odd number of transitions flips the door; a fresh opening leaves it open for a while.
    if (events % 2 === 1) this.open = !this.open;
    const motion = events > 0 || this.random.chance(Math.min(0.5, expected));
    return {
      door: this.open ? 'open' : 'closed',
      motion,
      events,
      openings: this.openings,
      ...this.battery.sample(at),
    };
  }
}

/** Knuth's method: fine for the small means a door sees. */
function poisson(uniform: () => number, mean: number): number {
  if (mean <= 0) return 0;
  const limit = Math.exp(-Math.min(mean, 50));
  let count = 0;
  let product = uniform();
  while (product > limit) {
    count++;
    product *= uniform();
  }
  return count;
}
