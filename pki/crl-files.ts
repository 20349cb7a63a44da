import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { loadIssuingCa, loadRootCa, type CertificateAuthority } from './authority.ts';
import { buildCrl, readCrl } from './crl.ts';
import { parseCrl } from './crl-verify.ts';
import type { PkiIndex } from './index-file.ts';
import type { PkiLayout } from './types.ts';

/** How long a CRL is valid, and how early it is re-signed: a CRL past nextUpdate makes OpenSSL refuse everyone. */
export const CRL_VALIDITY_DAYS = 7;
export const CRL_REFRESH_WHEN_DAYS_LEFT = 3;
const DAY_MS = 86_400_000;

async function signCrl(
  ca: CertificateAuthority,
  number: number,
  revoked: PkiIndex['crls']['root']['revoked'],
): Promise<string> {
  const now = new Date(Date.now() - 60_000); // a minute of slack for peers whose clocks run behind
  return buildCrl({
    issuerCertDer: ca.certDer,
    issuerPublicKey: ca.publicKey,
    issuerPrivateKey: ca.privateKey,
    crlNumber: number,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_DAYS * DAY_MS),
    revoked,
  });
}

/** The CRL number of a CRL file; 0 when there is none or it cannot be read. */
export async function crlFileNumber(path: string): Promise<number> {
  try {
    return parseCrl(await readFile(path, 'utf8')).number ?? 0;
  } catch {
    return 0;
  }
}

/**
 * Re-signs both CRLs, then writes each CA's CRL and the bundle a TLS server loads. The caller holds the PKI lock
 * and writes the index (with the bumped numbers) afterwards. The new number is one above both the index's and the
 * file's: a crash between the CRL files and the index must not make the next CRL reuse a number (a broker refuses
 * a CRL whose number does not go up).
 */
export async function writeCrls(
  layout: PkiLayout,
  index: PkiIndex,
  cas?: { root: CertificateAuthority; issuing: CertificateAuthority },
): Promise<void> {
  const root = cas?.root ?? (await loadRootCa(layout));
  const issuing = cas?.issuing ?? (await loadIssuingCa(layout));
  const [rootOnDisk, issuingOnDisk] = await Promise.all([
    crlFileNumber(layout.rootCrl),
    crlFileNumber(layout.issuingCrl),
  ]);
  index.crls.root.number = Math.max(index.crls.root.number, rootOnDisk) + 1;
  index.crls.issuing.number = Math.max(index.crls.issuing.number, issuingOnDisk) + 1;
  const [rootCrl, issuingCrl] = await Promise.all([
    signCrl(root, index.crls.root.number, index.crls.root.revoked),
    signCrl(issuing, index.crls.issuing.number, index.crls.issuing.revoked),
  ]);
  await writeFileAtomic(layout.rootCrl, rootCrl);
  await writeFileAtomic(layout.issuingCrl, issuingCrl);
  // The bundle is written last: the broker watches it, so when it changes both CRLs are already in place.
  await writeFileAtomic(layout.crlBundle, rootCrl + issuingCrl);
}

/** True when either CRL is within CRL_REFRESH_WHEN_DAYS_LEFT of its nextUpdate (or unreadable). */
export async function crlsAreDue(layout: PkiLayout, now = Date.now()): Promise<boolean> {
  for (const path of [layout.rootCrl, layout.issuingCrl]) {
    try {
      const { nextUpdate } = readCrl(await readFile(path, 'utf8'));
      if (nextUpdate.getTime() - now < CRL_REFRESH_WHEN_DAYS_LEFT * DAY_MS) return true;
    } catch {
      return true;
    }
  }
  return false;
}
