/**
 * The compiled policy: CN → grant. A grant is compiled once per connection ({cn} substituted, filters split into
 * levels, literal topics in a Set) so the per-message checks are a Set lookup or a short level walk.
 */
import picomatch from 'picomatch';
import { CN_PLACEHOLDER, type PolicyFile } from './policy-schema.ts';
import { isFilterCovered, matchLevelsInPlace } from './topic-filter.ts';

export interface Policy {
  /** Where it was read from (for messages). */
  readonly source: string;
  readonly requireClientIdMatchesCn: boolean;
  /** The grant for a CN, or why there is none. */
  resolve(cn: string): Grant | { refused: string };
}

export interface Grant {
  readonly cn: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Deny rules: they override the grants above. */
  readonly deny: Readonly<Deny>;
  /** May this identity publish to this topic name? Never for `$` topics. */
  canPublish(topic: string): boolean;
  /** Is every topic this filter can match granted for subscription, and none of them denied? */
  canSubscribe(filter: string): boolean;
  /** May a message on this topic be delivered to this identity (retained and restored ones included)? */
  canReceive(topic: string): boolean;
}

export interface Deny {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

const NO_DENY: Deny = { publish: [], subscribe: [] };

interface CompiledEntry {
  readonly matches: (cn: string) => boolean;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly deny: Deny;
}

/** Characters that would turn a substituted CN into a wildcard or an extra level. */
const UNSAFE_CN = /[/+#\u0000]/;

export function compilePolicy(file: PolicyFile, source: string): Policy {
  const entries: CompiledEntry[] = file.identities.map((entry) => {
    const patterns = typeof entry.cn === 'string' ? [entry.cn] : entry.cn;
    // CNs are names, not paths: dot files are ordinary names, and '!' negation would invert a grant.
    const matches = picomatch(patterns, { dot: true, nonegate: true, noextglob: true });
    return { matches, publish: entry.publish, subscribe: entry.subscribe, deny: entry.deny ?? NO_DENY };
  });
  // Grants are immutable, so one compiled grant serves every connection of a CN (and shares its subset cache).
  const resolved = new Map<string, Grant | { refused: string }>();
  const resolve = (cn: string): Grant | { refused: string } => {
    let grant = resolved.get(cn);
    if (grant === undefined) {
      grant = resolveUncached(cn);
      if (resolved.size >= 10_000) resolved.clear();
      resolved.set(cn, grant);
    }
    return grant;
  };
  return { source, requireClientIdMatchesCn: file.requireClientIdMatchesCn, resolve };

  function resolveUncached(cn: string): Grant | { refused: string } {
    if (cn.length === 0) return { refused: 'the certificate has no CN' };
    const matching = entries.filter((e) => e.matches(cn));
    if (matching.length === 0) return { refused: `no policy entry matches CN "${cn}"` };
    const substitute = (filter: string) => filter.replaceAll(CN_PLACEHOLDER, cn);
    const usesPlaceholder = matching.some((e) =>
      [...e.publish, ...e.subscribe, ...e.deny.publish, ...e.deny.subscribe].some((f) => f.includes('{cn}')),
    );
    if (usesPlaceholder && UNSAFE_CN.test(cn)) {
      return { refused: `CN "${cn}" contains '/', '+', '#' or NUL and cannot stand in a topic` };
    }
    const publish = unique(matching.flatMap((e) => e.publish.map(substitute)));
    const subscribe = unique(matching.flatMap((e) => e.subscribe.map(substitute)));
    const deny = {
      publish: unique(matching.flatMap((e) => e.deny.publish.map(substitute))),
      subscribe: unique(matching.flatMap((e) => e.deny.subscribe.map(substitute))),
    };
    return compileGrant(cn, publish, subscribe, deny);
  }
}

export function compileGrant(
  cn: string,
  publish: readonly string[],
  subscribe: readonly string[],
  deny: Deny = NO_DENY,
): Grant {
  const publishMatcher = filterSetMatcher(publish);
  const receiveMatcher = filterSetMatcher(subscribe);
  const publishDenied = deny.publish.length > 0 ? filterSetMatcher(deny.publish) : () => false;
  const receiveDenied = deny.subscribe.length > 0 ? filterSetMatcher(deny.subscribe) : () => false;
  const subscribeCache = new Map<string, boolean>();
  return {
    cn,
    publish,
    subscribe,
    deny,
    canPublish: (topic) => !topic.startsWith('$') && publishMatcher(topic) && !publishDenied(topic),
    canSubscribe(filter) {
      let granted = subscribeCache.get(filter);
      if (granted === undefined) {
        // Every topic of the filter granted (the union of the grants covers it), and not every topic denied (the
        // union of the deny rules does not cover it). A filter that reaches some denied topics (`#`, `+/+` past a
        // deny on `test/nosubscribe`) is granted: the denied topics are filtered out of its deliveries
        // (canReceive), as Mosquitto's dynamic security does; one that could only ever deliver denied topics is
        // refused, so the client learns it (SUBACK 0x80 / 0x87).
        granted =
          isFilterCovered(filter, subscribe) &&
          !(deny.subscribe.length > 0 && isFilterCovered(filter, deny.subscribe));
        if (subscribeCache.size > 256) subscribeCache.clear();
        subscribeCache.set(filter, granted);
      }
      return granted;
    },
    // A deny on subscription also stops deliveries (retained and restored ones), whatever filter brought them.
    canReceive:
      deny.subscribe.length > 0 ? (topic) => receiveMatcher(topic) && !receiveDenied(topic) : receiveMatcher,
  };
}

/** A predicate "does any of these filters match this topic name", literal filters answered by a Set. */
function filterSetMatcher(filters: readonly string[]): (topic: string) => boolean {
  const literal = new Set(filters.filter((f) => !f.includes('+') && !f.includes('#')));
  const wildcard = filters.filter((f) => !literal.has(f)).map((f) => f.split('/'));
  return (topic) => {
    if (literal.has(topic)) return true;
    if (wildcard.length === 0) return false;
    return wildcard.some((filter) => matchLevelsInPlace(filter, topic));
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
