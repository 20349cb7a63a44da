import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGrant } from '../../broker/policy.ts';
import { isFilterCovered, matchTopic, topicFilterError } from '../../broker/topic-filter.ts';

/** An independent matcher for the oracle: filter → regular expression, per the spec's wording. */
const compiled = new Map<string, RegExp>();
function referenceMatch(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  let regex = compiled.get(filter);
  if (!regex) {
    let pattern = '';
    filter.split('/').forEach((level, i) => {
      const sep = i === 0 ? '' : '/';
      if (level === '#') pattern += i === 0 ? '.*' : '(?:/.*)?';
      else if (level === '+') pattern += `${sep}[^/]*`;
      else pattern += sep + level.replace(/[$]/g, '\\$');
    });
    regex = new RegExp(`^${pattern}$`);
    compiled.set(filter, regex);
  }
  return regex.test(topic);
}

const FILTER_LEVELS = ['a', 'b', '$s', '', '+'];
const TOPIC_LEVELS = ['a', 'b', '$s', '', 'fresh'];

const filterArb = fc
  .tuple(fc.array(fc.constantFrom(...FILTER_LEVELS), { minLength: 1, maxLength: 3 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels.slice(0, -1), '#'] : levels).join('/'))
  .filter((f) => topicFilterError(f) === null);

function allTopics(maxLevels: number): string[] {
  let current: string[][] = [[]];
  const out: string[] = [];
  for (let n = 1; n <= maxLevels; n++) {
    current = current.flatMap((prefix) => TOPIC_LEVELS.map((l) => [...prefix, l]));
    for (const t of current) {
      const topic = t.join('/');
      if (topic !== '') out.push(topic); // an empty topic name is not a topic
    }
  }
  return out;
}
const TOPICS = allTopics(4);

describe('topic filter matching', () => {
  it('agrees with a regular-expression oracle on every topic', () => {
    fc.assert(
      fc.property(filterArb, (filter) => {
        const wrong = TOPICS.filter((t) => matchTopic(filter, t) !== referenceMatch(filter, t));
        expect(wrong).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('follows the spec examples', () => {
    expect(matchTopic('sport/#', 'sport')).toBe(true);
    expect(matchTopic('sport/+', 'sport')).toBe(false);
    expect(matchTopic('sport/+', 'sport/')).toBe(true);
    expect(matchTopic('#', '$SYS/x')).toBe(false);
    expect(matchTopic('+/x', '$SYS/x')).toBe(false);
    expect(matchTopic('$SYS/#', '$SYS/x')).toBe(true);
  });

  it('rejects malformed filters', () => {
    expect(topicFilterError('a/#/b')).toMatch(/last/);
    expect(topicFilterError('a/b#')).toMatch(/whole level/);
    expect(topicFilterError('a+/b')).toMatch(/whole level/);
    expect(topicFilterError('')).toMatch(/empty/);
    expect(topicFilterError('a/+', false)).toMatch(/wildcards/);
  });
});

describe('filter coverage (subset of the union of granted filters)', () => {
  // SUBSET_RUNS=100000 for a deeper search (checked once: passes)
  it('equals brute-force enumeration of topics', { timeout: 600_000 }, () => {
    fc.assert(
      fc.property(filterArb, fc.array(filterArb, { maxLength: 3 }), (candidate, granted) => {
        const brute = TOPICS.every(
          (t) => !referenceMatch(candidate, t) || granted.some((g) => referenceMatch(g, t)),
        );
        expect(isFilterCovered(candidate, granted)).toBe(brute);
      }),
      { numRuns: Number(process.env.SUBSET_RUNS ?? 5000) },
    );
  });

  it.each([
    ['devices/d1/commands/#', ['devices/d1/commands/#'], true],
    ['devices/d1/commands/x', ['devices/d1/commands/#'], true],
    ['devices/d1/commands', ['devices/d1/commands/#'], true],
    ['devices/+/telemetry', ['devices/d1/#'], false],
    ['devices/#', ['devices/d1/#'], false],
    ['#', ['devices/+/#', '$SYS/certfleet/#'], false],
    ['devices/+/telemetry', ['devices/+/#'], true],
    ['$SYS/certfleet/audit', ['devices/+/#', '$SYS/certfleet/#'], true],
    ['$SYS/certfleet/audit', ['#'], false],
    ['+/certfleet/audit', ['$SYS/certfleet/#'], false],
    ['a/#', ['a', 'a/+/#'], true],
    ['a/+', ['a/x', 'a/y'], false],
  ])('%s within %j → %s', (candidate, granted, expected) => {
    expect(isFilterCovered(candidate, granted)).toBe(expected);
  });
});

describe('deny rules: subscription grants with denies', () => {
  it('canSubscribe(filter) = every topic of it granted and not every one denied; canReceive per topic, by enumeration', () => {
    fc.assert(
      fc.property(
        filterArb,
        fc.array(filterArb, { maxLength: 3 }),
        fc.array(filterArb, { maxLength: 2 }),
        (candidate, granted, denied) => {
          const grant = compileGrant('cn', [], granted, { publish: [], subscribe: denied });
          const matched = TOPICS.filter((t) => referenceMatch(candidate, t));
          const brute =
            matched.every((t) => granted.some((g) => referenceMatch(g, t))) &&
            !matched.every((t) => denied.some((d) => referenceMatch(d, t)));
          expect(grant.canSubscribe(candidate)).toBe(brute);
          for (const t of matched) {
            const allowed =
              granted.some((g) => referenceMatch(g, t)) && !denied.some((d) => referenceMatch(d, t));
            expect(grant.canReceive(t)).toBe(allowed);
          }
        },
      ),
      { numRuns: Number(process.env.SUBSET_RUNS ?? 500) },
    );
  });
});
