import { UserError } from '../core/user-error.ts';
import { describeIdentity } from './catalog.ts';
import { crlsAreDue, writeCrls } from './crl-files.ts';
import { readIndex, withPkiLock, writeIndex } from './index-file.ts';
import { openStore, reconcileLocked } from './recovery.ts';
import { pkiLayout } from './layout.ts';
import type { IdentityInfo } from './types.ts';

export interface RevokeResult {
  identity: IdentityInfo;
  alreadyRevoked: boolean;
}

/**
 * Adds the identity's serial to the issuing CA's CRL and re-signs both CRLs (the bundle a server loads is replaced
 * atomically, last). Revoking twice is harmless.
 */
export async function revokeIdentity(stateDir: string, id: string): Promise<RevokeResult> {
  const layout = pkiLayout(stateDir);
  if (id === 'root-ca' || id === 'issuing-ca') {
    throw new UserError(
      'cannot revoke a CA',
      `'${id}' signs the CRLs itself`,
      'Start over with `certfleet pki init --force` instead.',
    );
  }
  const alreadyRevoked = await withPkiLock(layout, async () => {
    const index = await reconcileLocked(layout, { scan: true });
    const entry = index.identities[id];
    if (!entry) {
      throw new UserError(
        'unknown identity',
        `'${id}' was never issued in ${layout.pkiDir}`,
        'See `certfleet pki list` for the identities there are.',
      );
    }
    if (index.crls.issuing.revoked.some((revoked) => revoked.serialHex === entry.serial)) return true;
    index.crls.issuing.revoked.push({ serialHex: entry.serial, revokedAt: new Date().toISOString() });
    // CRLs first, then the index: a crash between them leaves the serial revoked in a signed CRL, and the next
    // command records it in the index too (recovery.ts) — a revocation is never lost.
    await writeCrls(layout, index);
    await writeIndex(layout, index);
    return false;
  });
  return { identity: await describeIdentity(layout, id), alreadyRevoked };
}

/** Re-signs the CRLs when they near their nextUpdate: an expired CRL would make the broker refuse every device. */
export async function refreshCrlsIfDue(stateDir: string): Promise<boolean> {
  const layout = pkiLayout(stateDir);
  await openStore(layout); // no PKI: say so, rather than try to re-sign CRLs that were never made
  if (!(await crlsAreDue(layout))) return false;
  return withPkiLock(layout, async () => {
    if (!(await crlsAreDue(layout))) return false;
    const index = await readIndex(layout);
    await writeCrls(layout, index);
    await writeIndex(layout, index);
    return true;
  });
}

/**
 * Re-signs both CRLs now, from the index (what is revoked) with numbers above any CRL written before. The broker
 * calls this when the CRL bundle it finds has expired and it holds the CA keys.
 */
export async function resignCrls(stateDir: string): Promise<void> {
  const layout = pkiLayout(stateDir);
  await withPkiLock(layout, async () => {
    const index = await reconcileLocked(layout);
    await writeCrls(layout, index);
    await writeIndex(layout, index);
  });
}
