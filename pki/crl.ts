import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import {
  type Asn1,
  OID,
  asn1,
  derToPem,
  fromDer,
  integer,
  integerFromHex,
  authorityKeyIdentifier,
  octetString,
  oid,
  pemToDer,
  seq,
  signStructure,
  signatureAlgorithm,
  subjectNameOf,
  time,
} from './der.ts';

export interface RevokedEntry {
  serialHex: string;
  revokedAt: string;
}

export interface CrlRequest {
  issuerCertDer: Buffer;
  issuerPublicKey: KeyObject;
  issuerPrivateKey: KeyObject;
  crlNumber: number;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: RevokedEntry[];
}

function extension(id: string, value: Asn1): Asn1 {
  return seq([oid(id), octetString(Buffer.from(asn1.toDer(value).getBytes(), 'binary'))]);
}

/**
 * A v2 CRL (RFC 5280 5.1) built with forge's ASN.1 layer — forge has no CRL API — and signed natively.
 * It carries the CRL number and the authority key identifier OpenSSL uses to match it to its CA.
 */
export async function buildCrl(request: CrlRequest): Promise<string> {
  const fields: Asn1[] = [
    integer(1), // v2
    signatureAlgorithm(request.issuerPrivateKey, 'sha256'),
    subjectNameOf(request.issuerCertDer),
    time(request.thisUpdate),
    time(request.nextUpdate),
  ];
  if (request.revoked.length > 0) {
    // RFC 5280 5.1.2.6: when there are no revoked certificates the list is absent, not empty.
    fields.push(
      seq(
        request.revoked.map((entry) =>
          seq([integerFromHex(entry.serialHex), time(new Date(entry.revokedAt))]),
        ),
      ),
    );
  }
  const authorityKeyId = authorityKeyIdentifier({
    certDer: request.issuerCertDer,
    publicKey: request.issuerPublicKey,
  }).toString('binary');
  fields.push(
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      seq([
        extension(
          OID.authorityKeyIdentifier,
          seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId)]),
        ),
        extension(OID.crlNumber, integer(request.crlNumber)),
      ]),
    ]),
  );
  const der = await signStructure(seq(fields), request.issuerPrivateKey, 'sha256');
  return derToPem(der, 'X509 CRL');
}

export interface CrlSummary {
  thisUpdate: Date;
  nextUpdate: Date;
  /** Upper-case hex serials, without leading zero padding beyond what DER holds. */
  revokedSerials: string[];
}

/** Reads the dates and revoked serials of a PEM CRL (Node has no CRL parser; forge's generic ASN.1 does it). */
export function readCrl(pem: string): CrlSummary {
  const list = fromDer(pemToDer(pem)).value as Asn1[];
  const tbs = list[0]!.value as Asn1[];
  const hasVersion = tbs[0]!.type === asn1.Type.INTEGER;
  const base = hasVersion ? 1 : 0;
  const dateOf = (node: Asn1): Date =>
    node.type === asn1.Type.UTCTIME
      ? asn1.utcTimeToDate(node.value as string)
      : asn1.generalizedTimeToDate(node.value as string);
  const thisUpdate = dateOf(tbs[base + 2]!);
  const maybeNext = tbs[base + 3];
  const hasNext =
    maybeNext && (maybeNext.type === asn1.Type.UTCTIME || maybeNext.type === asn1.Type.GENERALIZEDTIME);
  const nextUpdate = hasNext ? dateOf(maybeNext) : new Date(8640000000000000);
  const listNode = tbs[base + (hasNext ? 4 : 3)];
  const revokedSerials: string[] = [];
  if (listNode && listNode.tagClass === asn1.Class.UNIVERSAL && listNode.type === asn1.Type.SEQUENCE) {
    for (const entry of listNode.value as Asn1[]) {
      const serial = (entry.value as Asn1[])[0]!.value as string;
      revokedSerials.push(
        forge.util
          .bytesToHex(serial)
          .toUpperCase()
          .replace(/^(00)+(?=[0-9A-F]{2})/, ''),
      );
    }
  }
  return { thisUpdate, nextUpdate, revokedSerials };
}
