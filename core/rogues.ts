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

/** One row of the table (a function, so each row stays one line). */
function rogue<C extends RogueInfo['class']>(
  rogueClass: C,
  description: string,
  reason: Reason,
  step: LadderStepName,
  detail?: string,
) {
  return { class: rogueClass, description, expected: { reason, step, ...(detail && { detail }) } };
}

export const ROGUES = {
  'no-cert': rogue(
    'credential',
    'presents no client certificate at all',
    'NO_CERTIFICATE',
    'client-certificate',
  ),
  'self-signed': rogue('credential', 'a certificate that signed itself', 'SELF_SIGNED', 'client-verified'),
  'foreign-ca': rogue('credential', 'signed by an unrelated root CA', 'UNKNOWN_CA', 'client-verified'),
  'impostor-ca': rogue(
    'credential',
    "signed by a root that copies the real root's name, not its key",
    'UNKNOWN_CA',
    'client-verified',
    "the issuer's name matches ours but its key does not",
  ),
  expired: rogue('credential', 'a genuine certificate past its end date', 'EXPIRED', 'client-verified'),
  'not-yet-valid': rogue(
    'credential',
    'a genuine certificate whose start date is in the future',
    'NOT_YET_VALID',
    'client-verified',
  ),
  revoked: rogue(
    'credential',
    "a genuine certificate listed in the CA's revocation list",
    'REVOKED',
    'client-verified',
  ),
  'wrong-usage': rogue(
    'credential',
    'a genuine certificate not allowed for client authentication (server-only)',
    'WRONG_KEY_USAGE',
    'client-verified',
  ),
  sha1: rogue(
    'credential',
    'a certificate from our CA signed with the weak SHA-1 algorithm',
    'WEAK_SIGNATURE',
    'client-verified',
  ),
  'wrong-key': rogue(
    'credential',
    "a genuine certificate with someone else's private key",
    'KEY_MISMATCH',
    'client-certificate',
  ),
  'unknown-cn': rogue(
    'credential',
    'a valid certificate whose name is not in the policy',
    'UNKNOWN_IDENTITY',
    'access-granted',
  ),
  'clientid-spoof': rogue(
    'behaviour',
    "valid certificate, but claims another device's client id",
    'CLIENT_ID_MISMATCH',
    'access-granted',
  ),
  'topic-overreach': rogue(
    'behaviour',
    "valid certificate, publishes into another device's topic",
    'PUBLISH_DENIED',
    'messages-flow',
  ),
  'wildcard-snoop': rogue(
    'behaviour',
    "valid certificate, subscribes to # and other devices' topics",
    'SUBSCRIBE_DENIED',
    'messages-flow',
  ),
  'impostor-broker': rogue(
    'broker',
    'a real device sent to a fake broker (foreign CA): it must refuse it',
    'SERVER_UNTRUSTED',
    'server-verified',
  ),
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
