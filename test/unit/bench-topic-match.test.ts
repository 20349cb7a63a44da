/** The allocation-free topic matcher (a throughput-bench optimization) answers exactly like matchLevels. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchLevels, matchLevelsInPlace } from '../../broker/topic-filter.ts';

const level = fc.constantFrom('', 'a', 'b', 'ab', '$SYS', '$x', 'devices', 'sensor-1');
const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => levels.join('/'));
const filterLevels = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash || levels.length === 0 ? [...levels, '#'] : levels));

describe('matchLevelsInPlace', () => {
  it('agrees with matchLevels on every filter and topic', () => {
    fc.assert(
      fc.property(filterLevels, topic, (filter, name) => {
        expect(matchLevelsInPlace(filter, name)).toBe(matchLevels(filter, name.split('/')));
      }),
      { numRuns: 20_000 },
    );
  });

  it('answers the edge cases of MQTT 3.1.1 §4.7', () => {
    expect(matchLevelsInPlace(['a', '#'], 'a')).toBe(true);
    expect(matchLevelsInPlace(['a', '+'], 'a')).toBe(false);
    expect(matchLevelsInPlace(['a', '+'], 'a/')).toBe(true);
    expect(matchLevelsInPlace(['+'], '')).toBe(true);
    expect(matchLevelsInPlace(['#'], '$SYS/x')).toBe(false);
    expect(matchLevelsInPlace(['$SYS', '#'], '$SYS/x')).toBe(true);
    expect(matchLevelsInPlace(['devices', '+', '#'], 'devices/sensor-1/telemetry')).toBe(true);
    expect(matchLevelsInPlace(['devices', 'sensor-1'], 'devices/sensor-10')).toBe(false);
  });
});
