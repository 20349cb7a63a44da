/**
 * Rogue device kinds by name (DESIGN.md rogue catalogue): every credential in the rogue kit, the behaviour rogues
 * that hold valid identities, and a real device pointed at an impostor broker.
 */
import { ROGUE_CREDENTIAL_KINDS, type RogueCredentialKind } from '../pki/types.ts';
import type { BehaviourRogueKind } from './events.ts';

export const BEHAVIOUR_ROGUE_KINDS: readonly BehaviourRogueKind[] = [
  'clientid-spoof',
  'topic-overreach',
  'wildcard-snoop',
];

export const IMPOSTOR_BROKER_KIND = 'impostor-broker';

export const ROGUE_KINDS: readonly string[] = [
  ...ROGUE_CREDENTIAL_KINDS,
  ...BEHAVIOUR_ROGUE_KINDS,
  IMPOSTOR_BROKER_KIND,
];

export function isCredentialRogue(kind: string): kind is RogueCredentialKind {
  return (ROGUE_CREDENTIAL_KINDS as readonly string[]).includes(kind);
}

export function isBehaviourRogue(kind: string): kind is BehaviourRogueKind {
  return (BEHAVIOUR_ROGUE_KINDS as readonly string[]).includes(kind);
}

export function isRogueKind(kind: string): boolean {
  return ROGUE_KINDS.includes(kind);
}

/** What a person should expect of each rogue against a correctly configured broker. */
export const ROGUE_EXPECTATIONS: Record<string, string> = {
  'no-cert': 'refused in the handshake: no client certificate',
  'self-signed': 'refused: self-signed certificate',
  'foreign-ca': 'refused: issued by a CA the broker does not trust',
  'impostor-ca': 'refused: a CA that copies our root name but not its key',
  expired: 'refused: certificate expired',
  'not-yet-valid': 'refused: certificate not valid yet',
  revoked: 'refused: certificate revoked (CRL)',
  'wrong-usage': 'refused: certificate not allowed for client authentication',
  sha1: 'refused: SHA-1 signature',
  'wrong-key': 'refused before connecting: the key does not match the certificate',
  'unknown-cn': 'refused at CONNECT: valid chain, name not in the policy',
  'clientid-spoof': "refused at CONNECT: client id is another device's",
  'topic-overreach': "cut off when it publishes into another device's topic",
  'wildcard-snoop': 'SUBACK 0x80 for "#" and other devices\' topics',
  'impostor-broker': 'a real device refuses a broker certified by a foreign CA (step 3)',
};
