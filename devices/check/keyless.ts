/**
 * A broker whose CA we hold only the certificate of (`pki init --ca-cert FILE` without --ca-key): nothing can be
 * issued by that CA, so valid devices, behaviour rogues and every rogue "from our CA" cannot run. What still tests
 * the broker: no certificate, self-signed, a foreign CA, an impostor of its CA, and the device side (impostor-broker).
 */
import type { ExternalCa } from '../../pki/import-ca.ts';
import { ROGUES, type RogueKind } from '../../core/rogues.ts';
import type { CheckOptions } from './runner.ts';

const NEEDS_NO_CA_KEY: readonly RogueKind[] = [
  'no-cert',
  'self-signed',
  'foreign-ca',
  'impostor-ca',
  'impostor-broker',
];

export function keylessLimits(
  external: ExternalCa,
): Required<Pick<CheckOptions, 'unavailable' | 'credentialOverrides'>> & { ca: string } {
  const why = `needs a certificate signed by your CA, and \`pki init\` got --ca-cert without --ca-key (${external.ca})`;
  const kinds: Record<string, string> = {};
  for (const kind of Object.keys(ROGUES) as RogueKind[])
    if (!NEEDS_NO_CA_KEY.includes(kind)) kinds[kind] = why;
  return {
    ca: external.ca,
    unavailable: { validIdentities: why, kinds },
    credentialOverrides: { 'impostor-ca': external.impostor },
  };
}
