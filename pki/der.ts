import { sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { derToPem, randomSerialHex, wrapDer } from './der-bytes.ts';
import { keyIdentifierOfSpkiBytes } from './key-id.ts';

export { derToPem, randomSerialHex, wrapDer };

/**
 * Small DER helpers over node-forge's ASN.1 layer. forge works on "binary strings"; these convert at the edges
 * so the rest of the PKI deals in Buffers.
 */
export const asn1 = forge.asn1;
export type Asn1 = forge.asn1.Asn1;

export const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha1: '1.2.840.10045.4.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha1WithRsa: '1.2.840.113549.1.1.5',
  authorityKeyIdentifier: '2.5.29.35',
  subjectKeyIdentifier: '2.5.29.14',
  crlNumber: '2.5.29.20',
} as const;

export type HashName = 'sha256' | 'sha1';

/** Parts of node-forge's x509 module that exist at run time but are missing from @types/node-forge. */
export const forgePki = forge.pki as typeof forge.pki & {
  getTBSCertificate(cert: forge.pki.Certificate): Asn1;
  certificateExtensionFromAsn1(ext: Asn1): Record<string, unknown>;
  RDNAttributesAsArray(name: Asn1): Array<{ type: string; shortName?: string; value: string }>;
};

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

export function fromDer(der: Buffer): Asn1 {
  return asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

export function pemToDer(pem: string): Buffer {
  const body = /-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END [A-Z0-9 ]+-----/.exec(pem);
  if (!body) throw new Error('no PEM block found');
  return Buffer.from(body[1]!.replace(/\s+/g, ''), 'base64');
}

export function seq(children: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, children);
}

export function oid(value: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
}

export function integerFromHex(hex: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(hex));
}

export function integer(value: number): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
}

export function octetString(bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString('binary'));
}

export function bitString(bytes: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${bytes.toString('binary')}`);
}

export function time(date: Date): Asn1 {
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on.
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** The AlgorithmIdentifier for a signature by `key` with `hash`. ECDSA has no parameters, RSA a NULL (RFC 5758, 4055). */
export function signatureAlgorithm(key: KeyObject, hash: HashName): Asn1 {
  if (key.asymmetricKeyType === 'ec')
    return seq([oid(hash === 'sha256' ? OID.ecdsaWithSha256 : OID.ecdsaWithSha1)]);
  const nullParams = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '');
  return seq([oid(hash === 'sha256' ? OID.sha256WithRsa : OID.sha1WithRsa), nullParams]);
}

/**
 * Signs DER bytes. An ECDSA P-256 signature takes ~40 µs, less than handing it to libuv's thread pool costs this
 * thread, so it is made in place; RSA (a millisecond or more) goes to the thread pool so the event loop never stalls.
 */
export function signDer(hash: HashName, data: Buffer, key: KeyObject): Promise<Buffer> {
  if (key.asymmetricKeyType === 'ec') return Promise.resolve(sign(hash, data, key));
  return new Promise((resolve, reject) => {
    sign(hash, data, key, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}

/** Wraps a signed TBS structure (certificate or CRL) as SEQUENCE { tbs, algorithm, BIT STRING signature }. */
export async function signStructure(tbs: Asn1 | Buffer, key: KeyObject, hash: HashName): Promise<Buffer> {
  const tbsDer = Buffer.isBuffer(tbs) ? tbs : toDer(tbs);
  const signature = await signDer(hash, tbsDer, key);
  // The TBS bytes are spliced in as they were signed rather than re-encoded from a parsed tree.
  return wrapDer(0x30, [tbsDer, toDer(signatureAlgorithm(key, hash)), toDer(bitString(signature))]);
}

/** SubjectPublicKeyInfo DER of a key. Exporting costs ~0.2 ms, so each key is exported once. */
const spkiCache = new WeakMap<KeyObject, Buffer>();
export function spkiDer(publicKey: KeyObject): Buffer {
  let der = spkiCache.get(publicKey);
  if (!der) {
    der = publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
    spkiCache.set(publicKey, der);
  }
  return der;
}

export const keyIdentifierOfSpki = keyIdentifierOfSpkiBytes;

const keyIdCache = new WeakMap<KeyObject, Buffer>();
export function keyIdentifier(publicKey: KeyObject): Buffer {
  let id = keyIdCache.get(publicKey);
  if (!id) {
    id = keyIdentifierOfSpki(spkiDer(publicKey));
    keyIdCache.set(publicKey, id);
  }
  return id;
}

/** The raw value (extnValue contents) of a certificate's extension, or undefined. */
export function extensionOf(certDer: Buffer, extensionOid: string): string | undefined {
  const tbs = (fromDer(certDer).value as Asn1[])[0]!.value as Asn1[];
  const wrapper = tbs.find((node) => node.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === 3);
  const extensions = ((wrapper?.value as Asn1[] | undefined)?.[0]?.value as Asn1[] | undefined) ?? [];
  for (const extension of extensions) {
    const parts = extension.value as Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) === extensionOid)
      return parts[parts.length - 1]!.value as string;
  }
  return undefined;
}

/**
 * The key id an AuthorityKeyIdentifier must carry: the issuer certificate's own SubjectKeyIdentifier when it has
 * one (a CA made elsewhere, or by an older certfleet, may compute it differently), else computed from its key.
 */
export function authorityKeyIdentifier(issuer: { certDer?: Buffer; publicKey: KeyObject }): Buffer {
  const ski = issuer.certDer ? extensionOf(issuer.certDer, OID.subjectKeyIdentifier) : undefined;
  if (ski !== undefined) return Buffer.from(asn1.fromDer(ski).value as string, 'binary');
  return keyIdentifier(issuer.publicKey);
}

/** The subject Name of a DER certificate, as ASN.1, byte for byte (what an issuer field must repeat). */
const subjectNameCache = new WeakMap<Buffer, Asn1>();
export function subjectNameOf(certDer: Buffer): Asn1 {
  let name = subjectNameCache.get(certDer);
  if (!name) {
    const tbs = (fromDer(certDer).value as Asn1[])[0]!.value as Asn1[];
    name = tbs[5]!;
    subjectNameCache.set(certDer, name);
  }
  return name;
}
