import type { Random } from '../random.ts';
import { round } from '../random.ts';
import { Battery } from './battery.ts';
import type { Reading, SensorModel } from './types.ts';

interface Point {
  lat: number;
  lon: number;
}

const METERS_PER_DEGREE = 111_320;

/**
 * A GPS tracker driving a closed route of waypoints around a seeded home point, at a varying speed, with GPS jitter.
 * Position is interpolated along the route by the distance travelled.
 */
export class TrackerModel implements SensorModel {
  private readonly route: Point[];
  private readonly legMeters: number[];
  private readonly routeMeters: number;
  private travelled = 0;
  private speed: number;
  private lastAt: number | undefined;
  private readonly battery: Battery;

  constructor(private readonly random: Random) {
    const home = { lat: random.between(47, 53), lon: random.between(5, 15) };
    this.route = Array.from({ length: 6 }, (_, index) => {
      const angle = (index / 6) * 2 * Math.PI + random.between(-0.3, 0.3);
      const radius = random.between(500, 3000) / METERS_PER_DEGREE;
      return { lat: home.lat + radius * Math.sin(angle), lon: home.lon + radius * Math.cos(angle) };
    });
    this.legMeters = this.route.map((point, index) => distanceMeters(point, this.routeAt(index + 1)));
    this.routeMeters = this.legMeters.reduce((sum, meters) => sum + meters, 0);
    this.speed = random.between(5, 15);
    this.battery = new Battery(random, 0.3);
  }

  sample(at: number): Reading {
    const seconds = this.lastAt === undefined ? 0 : Math.max(0, at - this.lastAt) / 1000;
    this.lastAt = at;
    this.speed = Math.min(30, Math.max(0, this.speed + this.random.gaussian() * 1.5));
    this.travelled = (this.travelled + this.speed * seconds) % this.routeMeters;
    const { position, heading } = this.positionAt(this.travelled);
    const jitter = () => (this.random.gaussian() * 3) / METERS_PER_DEGREE;
    return {
      lat: round(position.lat + jitter(), 6),
      lon: round(position.lon + jitter(), 6),
      speed: round(this.speed * 3.6, 1),
      heading: round(heading, 0),
      ...this.battery.sample(at),
    };
  }

  private routeAt(index: number): Point {
    return this.route[index % this.route.length] as Point;
  }

  private positionAt(meters: number): { position: Point; heading: number } {
    let remaining = meters;
    for (let leg = 0; leg < this.legMeters.length; leg++) {
      const legLength = this.legMeters[leg] as number;
      if (remaining <= legLength || leg === this.legMeters.length - 1) {
        const from = this.routeAt(leg);
        const to = this.routeAt(leg + 1);
        const t = legLength === 0 ? 0 : Math.min(1, remaining / legLength);
        const heading = (Math.atan2(to.lon - from.lon, to.lat - from.lat) * 180) / Math.PI;
        return {
          position: { lat: from.lat + (to.lat - from.lat) * t, lon: from.lon + (to.lon - from.lon) * t },
          heading: (heading + 360) % 360,
        };
      }
      remaining -= legLength;
    }
    return { position: this.routeAt(0), heading: 0 };
  }
}

function distanceMeters(a: Point, b: Point): number {
  const dLat = (b.lat - a.lat) * METERS_PER_DEGREE;
  const dLon = (b.lon - a.lon) * METERS_PER_DEGREE * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(dLat, dLon);
}
