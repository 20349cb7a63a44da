import { UserError } from '../core/user-error.ts';
import { describeIdentity, enrolledIdentities } from './catalog.ts';
import { crlsAreDue, writeCrls } from './crl-files.ts';
import { enrollmentLedgerPath, readEnrollmentRecords } from './enrollment-record.ts';
import { readIndex, withPkiLock, writeIndex } from './index-file.ts';
import { openStore, reconcileLocked } from './recovery.ts';
import { pkiLayout } from './layout.ts';
import type { IdentityInfo } from './types.ts';

export interface RevokeResult {
  identity: IdentityInfo;
  alreadyRevoked: boolean;
  /** Every serial of the identity that is now revoked: one for an indexed id, all the ledger issued for an enrolled CN. */
  serials: string[];
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
  return withPkiLock(layout, async () => {
    const index = await reconcileLocked(layout, { scan: true });
    const entry = index.identities[id];
    const records = entry ? [] : readEnrollmentRecords(enrollmentLedgerPath(stateDir));
    // Not in the index: a CN the broker's enrollment service signed (provisioned by claim) is the CA's all the same.
    const serials = entry
      ? [entry.serial]
      : records.filter((record) => record.cn === id).map((record) => record.serial);
    if (serials.length === 0) {
      throw new UserError(
        'unknown identity',
        `'${id}' was never issued in ${layout.pkiDir}, nor enrolled through the broker`,
        'See `certfleet pki list` for the identities there are.',
      );
    }
    const revoked = new Set(index.crls.issuing.revoked.map((revoked) => revoked.serialHex));
    const toRevoke = [...new Set(serials)].filter((serial) => !revoked.has(serial));
    const revokedAt = new Date().toISOString();
    for (const serialHex of toRevoke) index.crls.issuing.revoked.push({ serialHex, revokedAt });
    if (toRevoke.length > 0) {
      // CRLs first, then the index: a crash between them leaves the serial revoked in a signed CRL, and the next
      // command records it in the index too (recovery.ts) — a revocation is never lost.
      await writeCrls(layout, index);
      await writeIndex(layout, index);
    }
    const identity = entry
      ? await describeIdentity(layout, id, index)
      : enrolledIdentities(layout, index, records).find((info) => info.id === id)!;
    return { identity, alreadyRevoked: toRevoke.length === 0, serials };
  });
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
