import { type KeyObject, sign } from 'node:crypto';
import { derCommonNameSubject, derIntegerFromHex, derTime, derToPem, wrapDer } from './der-bytes.ts';
import { keyIdentifierOfSpkiBytes } from './key-id.ts';

/**
 * What every leaf of one profile and issuer shares, as DER (laid out once by forge in leaf-template.ts). Plain
 * Buffers and numbers, so it can be posted to a worker thread.
 */
export interface LeafPrototype {
  version: Buffer;
  signatureAlgorithm: Buffer;
  issuer: Buffer;
  extensions: Buffer[];
  /** Which extension is the SubjectKeyIdentifier (each leaf's own). */
  skiIndex: number;
  hash: 'sha256' | 'sha1';
}

/** OID 2.5.29.14 (subjectKeyIdentifier), encoded. */
const SKI_OID = Buffer.from('0603551d0e', 'hex');

/** A leaf's TBSCertificate: the prototype's DER with this leaf's serial, validity, subject, key and key id. */
export function leafTbs(
  prototype: LeafPrototype,
  commonName: string,
  spki: Buffer,
  notBefore: Date,
  notAfter: Date,
  serialHex: string,
): Buffer {
  const ski = wrapDer(0x30, [SKI_OID, wrapDer(0x04, [wrapDer(0x04, [keyIdentifierOfSpkiBytes(spki)])])]);
  const extensions = prototype.extensions.map((ext, index) => (index === prototype.skiIndex ? ski : ext));
  return wrapDer(0x30, [
    prototype.version,
    derIntegerFromHex(serialHex),
    prototype.signatureAlgorithm,
    prototype.issuer,
    wrapDer(0x30, [derTime(notBefore), derTime(notAfter)]),
    derCommonNameSubject(commonName),
    spki,
    wrapDer(0xa3, [wrapDer(0x30, extensions)]),
  ]);
}

/** SEQUENCE { tbs, algorithm, BIT STRING signature } around a TBS and its signature. */
export function signedCertificate(prototype: LeafPrototype, tbs: Buffer, signature: Buffer): Buffer {
  return wrapDer(0x30, [tbs, prototype.signatureAlgorithm, wrapDer(0x03, [Buffer.from([0]), signature])]);
}

/**
 * A whole leaf, signed on this thread (ECDSA P-256 ~40 µs; an RSA issuer key is slower: callers on the event loop
 * use the async path in leaf-template.ts instead). Used by the leaf worker threads.
 */
export function buildLeafSync(
  prototype: LeafPrototype,
  issuerKey: KeyObject,
  commonName: string,
  spki: Buffer,
  notBefore: Date,
  notAfter: Date,
  serialHex: string,
): { der: Buffer; pem: string } {
  const tbs = leafTbs(prototype, commonName, spki, notBefore, notAfter, serialHex);
  const der = signedCertificate(prototype, tbs, sign(prototype.hash, tbs, issuerKey));
  return { der, pem: derToPem(der, 'CERTIFICATE') };
}
