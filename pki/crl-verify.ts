/**
 * Reads a CRL completely and checks it against the CA that must have signed it: signature, issuer, validity
 * window. Node has no CRL API; the TBS bytes are cut out of the DER as they were signed (never re-encoded, so a
 * verifier checks exactly what the signer signed) and forge's generic ASN.1 reads the fields.
 */
import { type X509Certificate, verify } from 'node:crypto';
import forge from 'node-forge';
import { type Asn1, asn1, fromDer } from './der.ts';

export interface RevokedSerial {
  /** Upper-case hex, no leading 00 padding. */
  serialHex: string;
  revokedAt: string;
}

export interface ParsedCrl {
  pem: string;
  tbsDer: Buffer;
  signature: Buffer;
  signatureOid: string;
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** The CRL number extension (RFC 5280 5.2.3), null when absent. */
  number: number | null;
  revoked: RevokedSerial[];
}

/** Why a CRL cannot be used, in words an operator reads in the audit. */
export class CrlProblem extends Error {
  override readonly name = 'CrlProblem';
  constructor(
    message: string,
    /** 'expired' is the one fault a holder of the CA key cures by re-signing. */
    readonly kind: 'expired' | 'invalid' = 'invalid',
  ) {
    super(message);
  }
}

const SIGNATURE_HASHES: Record<string, { hash: string; key: 'ec' | 'rsa' }> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa' },
};

const CRL_NUMBER_OID = '2.5.29.20';
const PEM_CRL = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/;

/** One DER TLV: where its content starts and ends in `der`. Definite lengths only (DER). */
function tlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  if (at + 2 > der.length) throw new CrlProblem('truncated DER');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new CrlProblem('bad DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  if (end > der.length) throw new CrlProblem('truncated DER');
  return { tag, start, end };
}

function pemBody(pem: string): Buffer {
  const match = PEM_CRL.exec(pem);
  if (!match) throw new CrlProblem('no "BEGIN X509 CRL" block');
  const text = match[1]!.replace(/\s+/g, '');
  if (text.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new CrlProblem('the PEM body is not valid base64');
  }
  return Buffer.from(text, 'base64');
}

function dateOf(node: Asn1): Date {
  return node.type === asn1.Type.UTCTIME
    ? asn1.utcTimeToDate(node.value as string)
    : asn1.generalizedTimeToDate(node.value as string);
}

function serialHexOf(bytes: string): string {
  return forge.util
    .bytesToHex(bytes)
    .toUpperCase()
    .replace(/^(00)+(?=[0-9A-F]{2})/, '');
}

/** Parses one PEM CRL; any structural fault is a CrlProblem. */
export function parseCrl(pem: string): ParsedCrl {
  const der = pemBody(pem);
  try {
    const outer = tlv(der, 0);
    if (outer.tag !== 0x30 || outer.end !== der.length) throw new CrlProblem('not a DER SEQUENCE');
    const tbs = tlv(der, outer.start);
    const algorithm = tlv(der, tbs.end);
    const bits = tlv(der, algorithm.end);
    if (tbs.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03 || bits.end !== outer.end) {
      throw new CrlProblem('not a CertificateList (RFC 5280 5.1)');
    }
    const tbsDer = der.subarray(outer.start, tbs.end);
    const signature = der.subarray(bits.start + 1, bits.end);
    const outerAlgorithm = fromDer(der.subarray(tbs.end, algorithm.end)).value as Asn1[];
    const signatureOid = asn1.derToOid(outerAlgorithm[0]!.value as string);

    const fields = fromDer(tbsDer).value as Asn1[];
    const base = fields[0]!.type === asn1.Type.INTEGER ? 1 : 0;
    const innerOid = asn1.derToOid(((fields[base]!.value as Asn1[])[0]!.value as string) ?? '');
    if (innerOid !== signatureOid) throw new CrlProblem('inner and outer signature algorithms differ');
    const issuerDer = Buffer.from(asn1.toDer(fields[base + 1]!).getBytes(), 'binary');
    const thisUpdate = dateOf(fields[base + 2]!);
    let next = base + 3;
    let nextUpdate: Date | null = null;
    const maybeNext = fields[next];
    if (maybeNext && (maybeNext.type === asn1.Type.UTCTIME || maybeNext.type === asn1.Type.GENERALIZEDTIME)) {
      nextUpdate = dateOf(maybeNext);
      next++;
    }
    const revoked: RevokedSerial[] = [];
    let number: number | null = null;
    for (const node of fields.slice(next)) {
      if (node.tagClass === asn1.Class.UNIVERSAL && node.type === asn1.Type.SEQUENCE) {
        for (const entry of node.value as Asn1[]) {
          const [serial, date] = entry.value as Asn1[];
          revoked.push({
            serialHex: serialHexOf(serial!.value as string),
            revokedAt: dateOf(date!).toISOString(),
          });
        }
      } else if (node.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === 0) {
        for (const extension of (node.value as Asn1[])[0]!.value as Asn1[]) {
          const parts = extension.value as Asn1[];
          if (asn1.derToOid(parts[0]!.value as string) !== CRL_NUMBER_OID) continue;
          const inner = fromDer(Buffer.from(parts[parts.length - 1]!.value as string, 'binary'));
          number = Number.parseInt(forge.util.bytesToHex(inner.value as string), 16);
        }
      }
    }
    return { pem, tbsDer, signature, signatureOid, issuerDer, thisUpdate, nextUpdate, number, revoked };
  } catch (error) {
    if (error instanceof CrlProblem) throw error;
    throw new CrlProblem(`not a readable CRL (${(error as Error).message})`);
  }
}

/** The DER subject Name of a certificate: what the CRL's issuer field must repeat byte for byte. */
function subjectDerOf(ca: X509Certificate): Buffer {
  const tbs = fromDer(ca.raw).value as Asn1[];
  const fields = (tbs[0]!.value as Asn1[]).slice(
    (tbs[0]!.value as Asn1[])[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0,
  );
  return Buffer.from(asn1.toDer(fields[4]!).getBytes(), 'binary');
}

/** True when `ca`'s key made the CRL's signature with an algorithm we accept (SHA-256 or better). */
export function signedBy(crl: ParsedCrl, ca: X509Certificate): boolean {
  const algorithm = SIGNATURE_HASHES[crl.signatureOid];
  if (!algorithm || ca.publicKey.asymmetricKeyType !== algorithm.key) return false;
  try {
    return verify(algorithm.hash, crl.tbsDer, ca.publicKey, crl.signature);
  } catch {
    return false;
  }
}

/**
 * Checks a parsed CRL against the CA that must have issued it, at `now`. Throws a CrlProblem naming the first
 * fault: issuer, algorithm, signature, CRL number, validity window.
 */
export function checkCrl(crl: ParsedCrl, ca: X509Certificate, caName: string, now: Date): void {
  if (!crl.issuerDer.equals(subjectDerOf(ca))) throw new CrlProblem(`not issued by the ${caName}`);
  if (!SIGNATURE_HASHES[crl.signatureOid]) {
    throw new CrlProblem(`signature algorithm ${crl.signatureOid} is not accepted (SHA-256 or better)`);
  }
  if (!signedBy(crl, ca))
    throw new CrlProblem(`the signature does not verify with the ${caName}'s key (forged?)`);
  if (crl.number === null) throw new CrlProblem('it has no CRL number');
  if (crl.thisUpdate.getTime() > now.getTime()) {
    throw new CrlProblem(`not valid yet: thisUpdate ${crl.thisUpdate.toISOString()}`);
  }
  if (crl.nextUpdate === null) throw new CrlProblem('it has no nextUpdate');
  if (crl.nextUpdate.getTime() <= now.getTime()) {
    throw new CrlProblem(`expired: nextUpdate ${crl.nextUpdate.toISOString()}`, 'expired');
  }
}
