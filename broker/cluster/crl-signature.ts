/**
 * Checks a CRL bundle that arrived through Redis before any of it is believed. Redis is a message bus, not an
 * authority: whoever can write to it must not be able to un-revoke a device, or revoke everyone. So a bundle is
 * accepted only if every CRL in it is signed (SHA-256 or better) by one of our CAs, every CA has exactly one CRL,
 * none has expired, and no CRL is older (by CRL number) than the one this node already applies for that CA.
 */
import { type X509Certificate, verify } from 'node:crypto';
import forge from 'node-forge';
import { readCrl } from '../../pki/index.ts';

const SIGNATURE_HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const CRL_NUMBER_OID = '2.5.29.20';

export class CrlRejected extends Error {
  override readonly name = 'CrlRejected';
}

export interface VerifiedCrl {
  readonly pem: string;
  /** Subject of the CA whose key verified the signature. */
  readonly issuer: string;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** One DER tag-length-value at `offset`: exact byte ranges, because the signature covers the bytes as sent. */
function tlv(der: Buffer, offset: number): Tlv {
  if (offset + 2 > der.length) throw new CrlRejected('truncated DER');
  const tag = der[offset]!;
  const first = der[offset + 1]!;
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count < 1 || count > 4 || offset + 2 + count > der.length) throw new CrlRejected('bad DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
    header += count;
  }
  const end = offset + header + length;
  if (end > der.length) throw new CrlRejected('truncated DER');
  return { tag, start: offset + header, end };
}

function crlNumberOf(tbsDer: Buffer): bigint {
  const tbs = forge.asn1.fromDer(forge.util.createBuffer(tbsDer.toString('binary')));
  for (const field of tbs.value as forge.asn1.Asn1[]) {
    if (field.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || field.type !== 0) continue;
    for (const extension of ((field.value as forge.asn1.Asn1[])[0]?.value ?? []) as forge.asn1.Asn1[]) {
      const parts = extension.value as forge.asn1.Asn1[];
      if (forge.asn1.derToOid(parts[0]!.value as string) !== CRL_NUMBER_OID) continue;
      const octets = parts.at(-1)!.value as string;
      const integer = forge.asn1.fromDer(forge.util.createBuffer(octets));
      return BigInt(`0x${forge.util.bytesToHex(integer.value as string) || '0'}`);
    }
  }
  throw new CrlRejected('the CRL has no CRL number');
}

/** Verifies one PEM CRL against our CA certificates; throws CrlRejected with the reason. */
export function verifyCrl(pem: string, issuers: readonly X509Certificate[], now = new Date()): VerifiedCrl {
  const body = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(pem);
  if (!body) throw new CrlRejected('not a PEM CRL');
  const der = Buffer.from(body[1]!.replace(/\s+/g, ''), 'base64');
  const outer = tlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new CrlRejected('not a DER CertificateList');
  const tbs = tlv(der, outer.start);
  const algorithm = tlv(der, tbs.end);
  const signature = tlv(der, algorithm.end);
  if (tbs.tag !== 0x30 || algorithm.tag !== 0x30 || signature.tag !== 0x03 || signature.end !== outer.end) {
    throw new CrlRejected('not a DER CertificateList');
  }
  const oid = tlv(der, algorithm.start);
  const algorithmOid = forge.asn1.derToOid(der.subarray(oid.start, oid.end).toString('binary'));
  const hash = SIGNATURE_HASHES[algorithmOid];
  if (!hash)
    throw new CrlRejected(`signature algorithm ${algorithmOid} is not accepted (SHA-256 or better only)`);
  if (der[signature.start] !== 0) throw new CrlRejected('signature bit string has unused bits');
  const tbsBytes = der.subarray(outer.start, tbs.end); // the tbsCertList TLV, header included: what was signed
  const signatureBytes = der.subarray(signature.start + 1, signature.end);
  const issuer = issuers.find((ca) => {
    try {
      return verify(hash, tbsBytes, ca.publicKey, signatureBytes);
    } catch {
      return false; // e.g. an RSA signature tried against the EC key
    }
  });
  if (!issuer) throw new CrlRejected('no CA of ours signed this CRL (unsigned, forged or foreign)');
  const summary = readCrl(pem);
  if (summary.nextUpdate <= now)
    throw new CrlRejected(`the CRL of ${issuer.subject} expired ${summary.nextUpdate.toISOString()}`);
  return {
    pem,
    issuer: issuer.subject,
    crlNumber: crlNumberOf(tbsBytes),
    thisUpdate: summary.thisUpdate,
    nextUpdate: summary.nextUpdate,
  };
}

/**
 * A whole bundle (one CRL per CA, as `pki/crl-bundle.pem` holds): every CRL verified, every CA covered once, and
 * nothing older than `current` (the bundle this node applies now, already verified or read from its own disk).
 */
export function verifyCrlBundle(
  bundle: string,
  issuers: readonly X509Certificate[],
  current: readonly VerifiedCrl[],
  now = new Date(),
): VerifiedCrl[] {
  const blocks = bundle.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
  if (blocks.length === 0) throw new CrlRejected('the bundle holds no CRL');
  const verified = blocks.map((block) => verifyCrl(block, issuers, now));
  for (const ca of issuers) {
    const count = verified.filter((crl) => crl.issuer === ca.subject).length;
    if (count !== 1) throw new CrlRejected(`the bundle has ${count} CRLs of ${ca.subject} (one expected)`);
  }
  for (const crl of verified) {
    const mine = current.find((c) => c.issuer === crl.issuer);
    if (mine && crl.crlNumber < mine.crlNumber) {
      throw new CrlRejected(
        `CRL number ${crl.crlNumber} of ${crl.issuer} is older than the applied ${mine.crlNumber} (a replay?)`,
      );
    }
  }
  return verified;
}
