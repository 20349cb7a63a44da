/**
 * The rogue catalogue (DESIGN.md), one table like reasons.ts: every rogue kind's name (a contract used by the CLI,
 * the tests and the PKI's file names), what it is, and the exact refusal a correctly configured broker — or, for
 * `impostor-broker`, a correct device — must give it: reason and ladder step. The PKI makes the credentials, the
 * devices drive them, the CLI and the dashboard list them, the tests check the expectations — all from here.
 */
import type { LadderStepName } from './ladder.ts';
import type { Reason } from './reasons.ts';
import { UserError } from './user-error.ts';

export interface RogueInfo {
  /** `credential`: a bad certificate or key; `behaviour`: valid credentials, bad conduct; `broker`: the other side. */
  readonly class: 'credential' | 'behaviour' | 'broker';
  /** One line for menus and `pki rogue`. */
  readonly description: string;
  /** What must happen to it. */
  readonly expected: { readonly reason: Reason; readonly step: LadderStepName; readonly detail?: string };
}

export const ROGUES = {
  'no-cert': {
    class: 'credential',
    description: 'presents no client certificate at all',
    expected: { reason: 'NO_CERTIFICATE', step: 'client-certificate' },
  },
  'self-signed': {
    class: 'credential',
    description: 'a certificate that signed itself',
    expected: { reason: 'SELF_SIGNED', step: 'client-verified' },
  },
  'foreign-ca': {
    class: 'credential',
    description: 'signed by an unrelated root CA',
    expected: { reason: 'UNKNOWN_CA', step: 'client-verified' },
  },
  'impostor-ca': {
    class: 'credential',
    description: "signed by a root that copies the real root's name, not its key",
    expected: {
      reason: 'UNKNOWN_CA',
      step: 'client-verified',
      detail: "the issuer's name matches ours but its key does not",
    },
  },
  expired: {
    class: 'credential',
    description: 'a genuine certificate past its end date',
    expected: { reason: 'EXPIRED', step: 'client-verified' },
  },
  'not-yet-valid': {
    class: 'credential',
    description: 'a genuine certificate whose start date is in the future',
    expected: { reason: 'NOT_YET_VALID', step: 'client-verified' },
  },
  revoked: {
    class: 'credential',
    description: "a genuine certificate listed in the CA's revocation list",
    expected: { reason: 'REVOKED', step: 'client-verified' },
  },
  'wrong-usage': {
    class: 'credential',
    description: 'a genuine certificate not allowed for client authentication (server-only)',
    expected: { reason: 'WRONG_KEY_USAGE', step: 'client-verified' },
  },
  sha1: {
    class: 'credential',
    description: 'a certificate from our CA signed with the weak SHA-1 algorithm',
    expected: { reason: 'WEAK_SIGNATURE', step: 'client-verified' },
  },
  'wrong-key': {
    class: 'credential',
    description: "a genuine certificate with someone else's private key",
    expected: { reason: 'KEY_MISMATCH', step: 'client-certificate' },
  },
  'unknown-cn': {
    class: 'credential',
    description: 'a valid certificate whose name is not in the policy',
    expected: { reason: 'UNKNOWN_IDENTITY', step: 'access-granted' },
  },
  'clientid-spoof': {
    class: 'behaviour',
    description: "valid certificate, but claims another device's client id",
    expected: { reason: 'CLIENT_ID_MISMATCH', step: 'access-granted' },
  },
  'topic-overreach': {
    class: 'behaviour',
    description: "valid certificate, publishes into another device's topic",
    expected: { reason: 'PUBLISH_DENIED', step: 'messages-flow' },
  },
  'wildcard-snoop': {
    class: 'behaviour',
    description: "valid certificate, subscribes to # and other devices' topics",
    expected: { reason: 'SUBSCRIBE_DENIED', step: 'messages-flow' },
  },
  'impostor-broker': {
    class: 'broker',
    description: 'a real device sent to a fake broker (foreign CA): it must refuse it',
    expected: { reason: 'SERVER_UNTRUSTED', step: 'server-verified' },
  },
} as const satisfies Record<string, RogueInfo>;

export type RogueKind = keyof typeof ROGUES;
type KindOfClass<C extends RogueInfo['class']> = {
  [K in RogueKind]: (typeof ROGUES)[K]['class'] extends C ? K : never;
}[RogueKind];
export type CredentialRogueKind = KindOfClass<'credential'>;
export type BehaviourRogueKind = KindOfClass<'behaviour'>;

export const ROGUE_KINDS = Object.keys(ROGUES) as RogueKind[];
const ofClass = <K extends RogueKind>(rogueClass: RogueInfo['class']) =>
  ROGUE_KINDS.filter((kind) => ROGUES[kind].class === rogueClass) as K[];
export const CREDENTIAL_ROGUE_KINDS: readonly CredentialRogueKind[] = ofClass('credential');
export const BEHAVIOUR_ROGUE_KINDS: readonly BehaviourRogueKind[] = ofClass('behaviour');
/** Kinds whose credential the PKI writes to disk (`no-cert` is the absence of one; behaviours use real identities). */
export const ROGUE_KINDS_WITH_FILES = ROGUE_KINDS.filter(
  (kind) => kind !== 'no-cert' && ROGUES[kind].class !== 'behaviour',
) as Exclude<CredentialRogueKind | 'impostor-broker', 'no-cert'>[];

export function isRogueKind(kind: string): kind is RogueKind {
  return Object.hasOwn(ROGUES, kind);
}
export function isCredentialRogue(kind: string): kind is CredentialRogueKind {
  return isRogueKind(kind) && ROGUES[kind].class === 'credential';
}
export function isBehaviourRogue(kind: string): kind is BehaviourRogueKind {
  return isRogueKind(kind) && ROGUES[kind].class === 'behaviour';
}

/** Checks names typed by a person (CLI options, prompts): an unknown one is a UserError listing the valid ones. */
export function parseRogueKinds(kinds: readonly string[]): RogueKind[] {
  for (const kind of kinds) {
    if (!isRogueKind(kind)) {
      throw new UserError('unknown rogue kind', `"${kind}"`, `Rogue kinds: ${ROGUE_KINDS.join(', ')}.`);
    }
  }
  return kinds as RogueKind[];
}
