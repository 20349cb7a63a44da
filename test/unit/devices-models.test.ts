import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFaultyModel, createSensorModel, DEVICE_PROFILES } from '../../devices/models/index.ts';
import { DAY_MS, HOUR_MS } from '../../devices/models/types.ts';
import { createRandom } from '../../devices/random.ts';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);
const times = (count: number, stepMs: number) =>
  Array.from({ length: count }, (_, index) => START + index * stepMs);

describe('seeded sensor models', () => {
  it.each(DEVICE_PROFILES)(
    '%s: the same seed gives the same data, another seed different data',
    (profile) => {
      const run = (seed: string) => {
        const model = createSensorModel(profile, seed);
        return times(200, 60_000).map((at) => model.sample(at));
      };
      expect(run('sensor-001')).toEqual(run('sensor-001'));
      expect(run('sensor-001')).not.toEqual(run('sensor-002'));
    },
  );

  it('the random stream is reproducible and uniform-ish in [0, 1)', () => {
    const a = createRandom('x');
    const b = createRandom('x');
    const values = Array.from({ length: 10_000 }, () => a.next());
    expect(values.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it('climate: afternoons are warmer than early mornings (daily cycle), humidity moves against it', () => {
    let warmer = 0;
    for (let seed = 0; seed < 20; seed++) {
      const model = createSensorModel('climate', seed);
      const readings = times(24 * 6, 10 * 60_000).map((at) => ({ at, reading: model.sample(at) }));
      const at = (hour: number) =>
        readings.filter(({ at }) => Math.floor(((at - START) % DAY_MS) / HOUR_MS) === hour)[0]?.reading;
      if ((at(15)?.temperature as number) > (at(5)?.temperature as number)) warmer++;
      if ((at(15)?.humidity as number) < (at(5)?.humidity as number)) warmer++;
    }
    expect(warmer).toBeGreaterThanOrEqual(36);
  });

  it('meter: the energy counter never goes backwards, whatever the sampling times', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.integer({ min: 0, max: 3 * HOUR_MS }), { maxLength: 60 }),
        (seed, gaps) => {
          const model = createSensorModel('meter', seed);
          let at = START;
          let previous = -Infinity;
          for (const gap of gaps) {
            at += gap;
            const energy = model.sample(at).energy as number;
            if (energy < previous) return false;
            previous = energy;
          }
          return true;
        },
      ),
    );
  });

  it('tracker: moves along its route at plausible speed and stays near home', () => {
    const model = createSensorModel('tracker', 'tracker-001');
    const readings = times(120, 10_000).map((at) => model.sample(at));
    const first = readings[0] as { lat: number; lon: number };
    const moved = readings.some((reading) => reading.lat !== first.lat || reading.lon !== first.lon);
    expect(moved).toBe(true);
    for (const reading of readings) {
      expect(Math.abs((reading.lat as number) - first.lat)).toBeLessThan(0.1);
      expect(reading.speed as number).toBeLessThanOrEqual(30 * 3.6);
      expect(reading.heading as number).toBeGreaterThanOrEqual(0);
      expect(reading.heading as number).toBeLessThanOrEqual(360);
    }
  });

  it('door: reports events over a day, and openings only increase', () => {
    const model = createSensorModel('door', 'door-001');
    const readings = times(24 * 60, 60_000).map((at) => model.sample(at));
    const total = readings.reduce((sum, reading) => sum + (reading.events as number), 0);
    expect(total).toBeGreaterThan(0);
    expect(readings.at(-1)?.openings).toBe(total);
    expect(new Set(readings.map((reading) => reading.door))).toEqual(new Set(['open', 'closed']));
  });

  it('battery drains and never rises', () => {
    const model = createSensorModel('climate', 'sensor-009');
    const levels = times(500, HOUR_MS).map((at) => model.sample(at).battery as number);
    for (let index = 1; index < levels.length; index++) {
      expect(levels[index]).toBeLessThanOrEqual(levels[index - 1] as number);
    }
    expect(levels.at(-1)).toBeLessThan(levels[0] as number);
  });
});

describe('fault injection', () => {
  it('dropout 1 loses every sample; no faults passes the model through unchanged', () => {
    const lossy = createFaultyModel('meter', 's', { dropout: 1 });
    expect(times(10, 1000).map((at) => lossy.sample(at))).toEqual(Array(10).fill(null));
    const clean = createFaultyModel('meter', 's', {});
    const plain = createSensorModel('meter', 's');
    for (const at of times(50, 1000)) expect(clean.sample(at)?.reading).toEqual(plain.sample(at));
  });

  it('stuck repeats the last reading for the configured number of samples', () => {
    const model = createFaultyModel('climate', 's', { stuck: 1, stuckSamples: 3 });
    const samples = times(5, 60_000).map((at) => model.sample(at));
    expect(samples[0]?.fault).toBeUndefined();
    expect(samples.slice(1, 4).map((sample) => sample?.fault)).toEqual(['stuck', 'stuck', 'stuck']);
    expect(samples[1]?.reading).toEqual(samples[0]?.reading);
  });

  it('spikes change one numeric value by a large factor, reproducibly', () => {
    const run = () => {
      const model = createFaultyModel('climate', 's', { spike: 0.3 });
      return times(100, 60_000).map((at) => model.sample(at));
    };
    const samples = run();
    expect(samples).toEqual(run());
    const plain = createSensorModel('climate', 's');
    const spiked = samples.filter((sample) => sample?.fault === 'spike');
    expect(spiked.length).toBeGreaterThan(10);
    const at = times(100, 60_000);
    const originals = at.map((time) => plain.sample(time));
    const index = samples.findIndex((sample) => sample?.fault === 'spike');
    const changed = Object.keys(originals[index] ?? {}).filter(
      (key) => originals[index]?.[key] !== samples[index]?.reading[key],
    );
    expect(changed).toHaveLength(1);
  });
});
