/**
 * PKCS#10 certificate signing requests (RFC 2986), for enrollment over MQTT: a device builds one around a key it
 * generated itself (the private key never leaves the device), the broker's enrollment service parses and verifies
 * it. forge's ASN.1 layer lays out the structure (forge's own CSR API knows RSA only); node:crypto signs and
 * verifies, so EC keys work.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import forge from 'node-forge';
import {
  asn1,
  type Asn1,
  derToPem,
  fromDer,
  integer,
  OID,
  pemToDer,
  seq,
  signStructure,
  spkiDer,
  toDer,
} from './der.ts';
import { describeKey } from './keys.ts';

const COMMON_NAME_OID = '2.5.4.3';

/** A CSR for `commonName` and the key pair's public half, signed with its private half (SHA-256). PEM. */
export async function buildCsr(commonName: string, privateKey: KeyObject): Promise<string> {
  const publicKey = createPublicKey(privateKey);
  const subject = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
      seq([
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(COMMON_NAME_OID).getBytes()),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(commonName)),
      ]),
    ]),
  ]);
  const infoDer = toDer(
    seq([
      integer(0), // version 1
      subject,
      fromDer(spkiDer(publicKey)),
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, []), // attributes: none
    ]),
  );
  return derToPem(await signStructure(infoDer, privateKey, 'sha256'), 'CERTIFICATE REQUEST');
}

export interface ParsedCsr {
  /** The requested subject CN (null when the subject has none, or more than one). */
  commonName: string | null;
  /** The SubjectPublicKeyInfo, DER: what goes into the certificate. */
  spki: Buffer;
  publicKey: KeyObject;
  /** e.g. 'ec-p256', 'rsa-1024' */
  keyType: string;
}

export class CsrError extends Error {}

/**
 * Parses a PEM CSR and checks its self-signature (proof that the requester holds the private key). Throws
 * CsrError with a reason a person can read for anything malformed, unsigned or signed with SHA-1.
 */
export function parseCsr(pem: string): ParsedCsr {
  let root: Asn1;
  let der: Buffer;
  try {
    der = pemToDer(pem);
    root = fromDer(der);
  } catch (error) {
    throw new CsrError(`not a PEM certificate request: ${(error as Error).message}`);
  }
  const parts = root.value as Asn1[];
  if (!Array.isArray(parts) || parts.length !== 3) throw new CsrError('not a PKCS#10 structure');
  const [info, algorithm] = parts as [Asn1, Asn1, Asn1];
  const fields = info.value as Asn1[];
  if (!Array.isArray(fields) || fields.length < 3) throw new CsrError('the request info is incomplete');
  // Signed bytes and the key are sliced from the original DER: re-encoding forge's parse tree may not reproduce them.
  const infoBytes = childrenOf(der, 0)[0]!;
  const spki = childrenOf(infoBytes, 0)[2]!;
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (error) {
    throw new CsrError(`the public key cannot be read: ${(error as Error).message}`);
  }
  const algorithmOid = asn1.derToOid(
    forge.util.createBuffer(((algorithm.value as Asn1[])[0]!.value as string) ?? ''),
  );
  if (algorithmOid !== OID.ecdsaWithSha256 && algorithmOid !== OID.sha256WithRsa) {
    throw new CsrError(
      `signature algorithm ${algorithmOid} is not accepted (SHA-256 with ECDSA or RSA only)`,
    );
  }
  const signatureTlv = childrenOf(der, 0)[2]!;
  // BIT STRING: past its header, drop the unused-bits byte (forge may have parsed an ECDSA signature into a tree).
  const signatureBytes = signatureTlv.subarray(header(signatureTlv, 0).valueStart + 1);
  if (!verify('sha256', infoBytes, publicKey, signatureBytes)) {
    throw new CsrError('the signature does not verify: the requester does not hold the private key');
  }
  return { commonName: commonNameOf(fields[1]!), spki, publicKey, keyType: describeKey(publicKey) };
}

/** The encoded children (tag, length and value) of the constructed DER element at `offset`. */
function childrenOf(der: Buffer, offset: number): Buffer[] {
  const outer = header(der, offset);
  const children: Buffer[] = [];
  for (let at = outer.valueStart; at < outer.end; ) {
    const child = header(der, at);
    children.push(der.subarray(at, child.end));
    at = child.end;
  }
  return children;
}

function header(der: Buffer, offset: number): { valueStart: number; end: number } {
  if (offset + 2 > der.length) throw new CsrError('truncated DER');
  const first = der[offset + 1]!;
  let length = first;
  let valueStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new CsrError('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
    valueStart += count;
  }
  const end = valueStart + length;
  if (end > der.length) throw new CsrError('truncated DER');
  return { valueStart, end };
}

function commonNameOf(name: Asn1): string | null {
  const values: string[] = [];
  for (const rdn of name.value as Asn1[]) {
    for (const attribute of rdn.value as Asn1[]) {
      const [type, value] = attribute.value as Asn1[];
      const typeOid = asn1.derToOid(forge.util.createBuffer(type!.value as string));
      if (typeOid === COMMON_NAME_OID) values.push(forge.util.decodeUtf8(value!.value as string));
    }
  }
  return values.length === 1 ? values[0]! : null;
}
