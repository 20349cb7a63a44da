/**
 * Reading a CRL bundle into what the broker checks peers against (revoked issuer + serial, nextUpdate). Noticing a
 * change of the bundle is path-watch.ts's; judging it (verify, use or reject) is crl-guard.ts's.
 */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import forge from 'node-forge';
import { readCrl } from '../pki/index.ts';
import { revocationKey } from './peer-certificate.ts';

export { revocationKey };

/** The DER of a certificate's subject, or of a CRL's issuer: how a CRL is matched to its CA. */
function nameDerOf(der: Buffer, field: 'certificate-subject' | 'crl-issuer'): string {
  const tbs = (forge.asn1.fromDer(der.toString('binary')).value as forge.asn1.Asn1[])[0]!
    .value as forge.asn1.Asn1[];
  const versioned =
    tbs[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC || tbs[0]!.type === forge.asn1.Type.INTEGER;
  const index = field === 'certificate-subject' ? (versioned ? 5 : 4) : versioned ? 2 : 1;
  return Buffer.from(forge.asn1.toDer(tbs[index]!).getBytes(), 'binary').toString('hex');
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

export interface CrlState {
  /** The bundle as read (both CRLs, PEM). */
  pem: string;
  /** One PEM per CRL: what the TLS context loads (Node reads only the first CRL of a single string). */
  crls: string[];
  /** Every revoked certificate of the bundle as `revocationKey(issuer, serial)`. */
  revoked: ReadonlySet<string>;
  /** Earliest nextUpdate of the bundle: past it, OpenSSL refuses everyone. */
  nextUpdate: Date;
}

/**
 * Reads a bundle WITHOUT verifying it (benchmarks only: bench/broker-gate.ts). The broker goes through
 * crl-verify.ts. `issuers`: our CA certificates, which name each CRL's issuer as peers' certificates do.
 */
export async function readCrlBundle(
  path: string,
  issuers: readonly X509Certificate[] = [],
): Promise<CrlState> {
  return parseCrlBundle(await readFile(path, 'utf8'), issuers);
}

/** A bundle already in memory (a cluster node receives it through Redis: broker/cluster/crl-share.ts). */
export function parseCrlBundle(pem: string, issuers: readonly X509Certificate[] = []): CrlState {
  const blocks = pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
  const caByName = new Map(
    issuers.map((ca) => [nameDerOf(ca.raw, 'certificate-subject'), ca.subject.split('\n').join(', ')]),
  );
  const revoked = new Set<string>();
  let nextUpdate = new Date(8640000000000000);
  for (const block of blocks) {
    const crl = readCrl(block);
    const issuerDer = nameDerOf(pemBody(block), 'crl-issuer');
    const issuer = caByName.get(issuerDer) ?? `unknown issuer ${issuerDer}`; // matches no peer: refuses no one
    for (const serial of crl.revokedSerials) revoked.add(revocationKey(issuer, serial));
    if (crl.nextUpdate < nextUpdate) nextUpdate = crl.nextUpdate;
  }
  return { pem, crls: blocks, revoked, nextUpdate };
}
