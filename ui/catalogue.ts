/** What the `a` and `r` menus offer: sensor profiles and every rogue kind of DESIGN.md, each with one line. */
import type { DeviceProfile } from '../devices/events.ts';
import type { RogueCredentialKind } from '../pki/types.ts';

export interface MenuItem<T extends string = string> {
  value: T;
  description: string;
}

export const PROFILE_ITEMS: readonly MenuItem<DeviceProfile>[] = [
  { value: 'climate', description: 'temperature and humidity sensor' },
  { value: 'tracker', description: 'GPS tracker: position and speed' },
  { value: 'meter', description: 'power meter: watts and kWh' },
  { value: 'door', description: 'door contact: open/closed events' },
];

export type RogueKind =
  | RogueCredentialKind
  | 'clientid-spoof'
  | 'topic-overreach'
  | 'wildcard-snoop'
  | 'impostor-broker';

/** Every rogue kind; the credential kinds mirror ROGUE_CREDENTIAL_KINDS in pki/types.ts (a test checks this). */
export const ROGUE_ITEMS: readonly MenuItem<RogueKind>[] = [
  { value: 'no-cert', description: 'presents no client certificate at all' },
  { value: 'self-signed', description: 'a certificate that signed itself' },
  { value: 'foreign-ca', description: 'signed by an unrelated root CA' },
  { value: 'impostor-ca', description: "signed by a root that copies the real root's name" },
  { value: 'expired', description: 'a genuine certificate past its end date' },
  { value: 'not-yet-valid', description: 'a genuine certificate whose start date is in the future' },
  { value: 'revoked', description: "a genuine certificate listed in the CA's revocation list" },
  { value: 'wrong-usage', description: 'a genuine certificate not allowed for client authentication' },
  { value: 'sha1', description: 'a certificate signed with the weak SHA-1 algorithm' },
  { value: 'wrong-key', description: "a genuine certificate with someone else's private key" },
  { value: 'unknown-cn', description: 'a valid certificate whose name is not in the policy' },
  { value: 'clientid-spoof', description: "valid certificate, but claims another device's client id" },
  { value: 'topic-overreach', description: "valid certificate, publishes into another device's topic" },
  { value: 'wildcard-snoop', description: "valid certificate, subscribes to # and other devices' topics" },
  {
    value: 'impostor-broker',
    description: 'a real device sent to a fake broker (foreign CA): it must refuse it',
  },
];
