/**
 * MQTT topic filters: validation, matching and the subset relation the policy needs.
 *
 * Semantics (MQTT 3.1.1 §4.7): levels are separated by '/'; '+' matches exactly one level (an empty one too);
 * '#' is the last level and matches the parent and any number of further levels; a topic whose first level starts
 * with '$' is never matched by a filter whose first level is a wildcard [MQTT-4.7.2-1].
 */

/** Why a filter is not well formed, or null when it is. `allowWildcards: false` checks a topic name. */
export function topicFilterError(filter: string, allowWildcards = true): string | null {
  if (filter.length === 0) return 'a topic must not be empty'; // [MQTT-4.7.3-1]
  if (filter.includes('\u0000')) return 'a topic must not contain a NUL character'; // [MQTT-4.7.3-2]
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (!allowWildcards && (level.includes('+') || level.includes('#'))) {
      return "a topic name must not contain the wildcards '+' or '#'";
    }
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return "'#' must be a whole level and the last one"; // [MQTT-4.7.1-2]
    }
    if (level.includes('+') && level !== '+') return "'+' must be a whole level"; // [MQTT-4.7.1-3]
  }
  return null;
}

const isWildcard = (level: string): boolean => level === '+' || level === '#';

/** Does `filter` (split into levels) match `topic` (split into levels)? */
export function matchLevels(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]?.startsWith('$') && isWildcard(filter[0] ?? '')) return false; // [MQTT-4.7.2-1]
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#') return true; // matches the parent level too: 'a/#' matches 'a'
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

/**
 * matchLevels for a topic not split: the same answer without allocating an array per message (the policy checks
 * every delivery; splitting the topic was most of their cost in the throughput bench).
 */
export function matchLevelsInPlace(filter: readonly string[], topic: string): boolean {
  if (topic.startsWith('$') && isWildcard(filter[0] ?? '')) return false; // [MQTT-4.7.2-1]
  let start = 0; // where the current topic level begins; past the end once every level is consumed
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#') return true; // matches the parent level too: 'a/#' matches 'a'
    if (start > topic.length) return false;
    let end = topic.indexOf('/', start);
    if (end === -1) end = topic.length;
    if (level !== '+' && (end - start !== level.length || !topic.startsWith(level, start))) return false;
    start = end + 1;
  }
  return start > topic.length;
}

export function matchTopic(filter: string, topic: string): boolean {
  return matchLevels(filter.split('/'), topic.split('/'));
}

/** One granted filter being walked: its levels and how far the candidate filter has advanced in it. */
interface Cursor {
  readonly levels: readonly string[];
  readonly at: number;
}

/**
 * Is every topic the candidate filter can match also matched by at least one of the granted filters?
 * This is the union, not "inside one of them": `a/#` is covered by `a` plus `a/+/#` together.
 * Exact over all topics: a '+' level in the candidate is checked against every literal the grants name at that
 * level plus one value they do not name; a '#' level unrolls into "ends here" and "one more level, then '#'",
 * which terminates because only a granted '#' can cover topics longer than every grant.
 */
export function isFilterCovered(candidate: string, granted: readonly string[]): boolean {
  const cursors = granted.map((filter) => ({ levels: filter.split('/'), at: 0 }));
  return covered(candidate.split('/'), 0, cursors, false);
}

/** `emptyFirst`: level 0 of the topics under consideration is the empty string. */
function covered(
  candidate: readonly string[],
  index: number,
  cursors: readonly Cursor[],
  emptyFirst: boolean,
): boolean {
  const level = candidate[index];
  if (level === undefined) {
    if (index === 1 && emptyFirst) return true; // that topic would be "", which is not a topic name
    // The candidate matches exactly the topics ending here: some grant must also end here or hold a '#'.
    return cursors.some((c) => c.at === c.levels.length || c.levels[c.at] === '#');
  }
  const first = index === 0;
  // A granted '#' covers everything from here on, except '$' topics at the first level, which the candidate
  // only reaches through a literal '$…' level that a wildcard grant may not match.
  const dollarLiteral = first && level.startsWith('$') && !isWildcard(level);
  if (!dollarLiteral && cursors.some((c) => c.levels[c.at] === '#')) return true;
  if (level === '#') {
    // Topics of any length: only reachable if some grant still has a '#' ahead.
    if (!cursors.some((c) => c.levels.indexOf('#', c.at) >= 0)) return false;
    // "Ends here" is the topic of the levels before '#': none at all, or just "", is no topic name.
    const endsHere =
      first || (index === 1 && emptyFirst) || covered(candidate, index + 1, cursors, emptyFirst);
    // …and everything longer: the candidate continues as '+/#'.
    return (
      endsHere && coveredForEveryValue([...candidate.slice(0, index), '+', '#'], index, cursors, emptyFirst)
    );
  }
  if (level === '+') return coveredForEveryValue(candidate, index, cursors, emptyFirst);
  const nextEmptyFirst = first ? level === '' : emptyFirst;
  return covered(candidate, index + 1, advance(cursors, level, dollarLiteral), nextEmptyFirst);
}

/** The candidate's level `index` is '+': try each literal the grants name there, and one they don't. */
function coveredForEveryValue(
  candidate: readonly string[],
  index: number,
  cursors: readonly Cursor[],
  emptyFirst: boolean,
): boolean {
  const nextIndex = index + 1;
  const first = index === 0;
  const literals = new Set<string>();
  for (const c of cursors) {
    const l = c.levels[c.at];
    // A wildcard first level never matches '$' topics, so those literal values are not in its range.
    if (l !== undefined && !isWildcard(l) && !(first && l.startsWith('$'))) literals.add(l);
  }
  for (const literal of literals) {
    const nextEmptyFirst = first ? literal === '' : emptyFirst;
    if (!covered(candidate, nextIndex, advance(cursors, literal, false), nextEmptyFirst)) return false;
  }
  // A value no grant names: only '+' grant levels follow it.
  const other = cursors
    .filter((c) => c.levels[c.at] === '+')
    .map((c) => ({ levels: c.levels, at: c.at + 1 }));
  return covered(candidate, nextIndex, other, first ? false : emptyFirst);
}

/** The grants still alive after the candidate's level takes the literal `value`. */
function advance(cursors: readonly Cursor[], value: string, dollarAtFirst: boolean): Cursor[] {
  const out: Cursor[] = [];
  for (const c of cursors) {
    const l = c.levels[c.at];
    if (l === undefined || l === '#') continue;
    if (l === value || (l === '+' && !dollarAtFirst)) out.push({ levels: c.levels, at: c.at + 1 });
  }
  return out;
}
