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
  return new CompiledGrant(cn, publish, subscribe, deny);
}

/**
 * A grant's checks are methods, shared by every grant, and its state is plain fields: each device has a CN of its
 * own, so a grant lives as long as each held connection, and closures made per grant (each with its own property
 * dictionary, as tsx compiles named ones) cost ~1 KiB per connection.
 */
class CompiledGrant implements Grant {
  private readonly publishAllowed: FilterSet;
  private readonly receiveAllowed: FilterSet;
  private readonly publishDenied: FilterSet | null;
  private readonly receiveDenied: FilterSet | null;
  /** Answers of canSubscribe by filter; made at the first SUBSCRIBE. */
  private subscribeCache: Map<string, boolean> | null = null;

  constructor(
    readonly cn: string,
    readonly publish: readonly string[],
    readonly subscribe: readonly string[],
    readonly deny: Deny,
  ) {
    this.publishAllowed = new FilterSet(publish);
    this.receiveAllowed = new FilterSet(subscribe);
    this.publishDenied = deny.publish.length > 0 ? new FilterSet(deny.publish) : null;
    this.receiveDenied = deny.subscribe.length > 0 ? new FilterSet(deny.subscribe) : null;
  }

  canPublish(topic: string): boolean {
    return (
      !topic.startsWith('$') && this.publishAllowed.matches(topic) && !this.publishDenied?.matches(topic)
    );
  }

  canSubscribe(filter: string): boolean {
    this.subscribeCache ??= new Map();
    let granted = this.subscribeCache.get(filter);
    if (granted === undefined) {
      // Every topic of the filter granted (the union of the grants covers it), and not every topic denied (the
      // union of the deny rules does not cover it). A filter that reaches some denied topics (`#`, `+/+` past a
      // deny on `test/nosubscribe`) is granted: the denied topics are filtered out of its deliveries
      // (canReceive), as Mosquitto's dynamic security does; one that could only ever deliver denied topics is
      // refused, so the client learns it (SUBACK 0x80 / 0x87).
      granted =
        isFilterCovered(filter, this.subscribe) &&
        !(this.deny.subscribe.length > 0 && isFilterCovered(filter, this.deny.subscribe));
      if (this.subscribeCache.size > 256) this.subscribeCache.clear();
      this.subscribeCache.set(filter, granted);
    }
    return granted;
  }

  // A deny on subscription also stops deliveries (retained and restored ones), whatever filter brought them.
  canReceive(topic: string): boolean {
    return this.receiveAllowed.matches(topic) && !this.receiveDenied?.matches(topic);
  }
}

/** "Does any of these filters match this topic name": literal filters answered by a Set, the others level by level. */
class FilterSet {
  private readonly literal: ReadonlySet<string>;
  private readonly wildcard: readonly string[][];

  constructor(filters: readonly string[]) {
    this.literal = new Set(filters.filter((f) => !f.includes('+') && !f.includes('#')));
    this.wildcard = filters.filter((f) => !this.literal.has(f)).map((f) => f.split('/'));
  }

  matches(topic: string): boolean {
    if (this.literal.has(topic)) return true;
    if (this.wildcard.length === 0) return false;
    return this.wildcard.some((filter) => matchLevelsInPlace(filter, topic));
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
