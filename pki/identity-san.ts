/**
 * Identities that carry their name in a subject alternative name as well as in the CN: for brokers that take the
 * identity from the SAN (`certfleet check --identity-from san-dns|san-uri`). Existing identities without that SAN
 * are re-issued (new key, new certificate); the others are kept.
 */
import { mapConcurrently } from '../core/concurrency.ts';
import { describeIdentity } from './catalog.ts';
import { readIndex } from './index-file.ts';
import { deviceLeafSpec, issueLeaves } from './issue.ts';
import { validateIdentityName } from './identity-id.ts';
import { pkiLayout } from './layout.ts';
import type { IdentityInfo } from './types.ts';

export type IdentitySource = 'cn' | 'san-dns' | 'san-uri';
export const IDENTITY_SOURCES: readonly IdentitySource[] = ['cn', 'san-dns', 'san-uri'];

/** The URI that names a device in its certificate under `san-uri`. */
export const identityUri = (id: string) => `urn:certfleet:device:${id}`;

/** How `pki show` lists the SAN that carries the identity. */
export function identitySan(id: string, source: Exclude<IdentitySource, 'cn'>): string {
  return source === 'san-dns' ? `DNS:${id}` : `URI:${identityUri(id)}`;
}

export async function ensureIdentitiesWithSan(
  stateDir: string,
  ids: string[],
  source: Exclude<IdentitySource, 'cn'>,
): Promise<IdentityInfo[]> {
  const layout = pkiLayout(stateDir);
  const index = await readIndex(layout);
  const unique = [...new Set(ids)];
  for (const id of unique) validateIdentityName(id);
  const current = await mapConcurrently(unique, 16, async (id) =>
    index.identities[id] ? describeIdentity(layout, id, index).catch(() => undefined) : undefined,
  );
  const missing = unique.filter((id, at) => {
    const entry = current[at];
    return entry?.role !== 'device' || !entry.subjectAltNames.includes(identitySan(id, source));
  });
  if (missing.length > 0) {
    const specs = missing.map((id) =>
      deviceLeafSpec(id, {
        subjectAltNames: source === 'san-dns' ? { dns: [id] } : { uri: [identityUri(id)] },
      }),
    );
    await issueLeaves(layout, specs, { force: true });
  }
  const after = await readIndex(layout);
  return mapConcurrently(ids, 16, (id) => describeIdentity(layout, id, after));
}
