import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import {
  type Asn1,
  type HashName,
  asn1,
  derToPem,
  forgePki,
  fromDer,
  authorityKeyIdentifier,
  keyIdentifierOfSpki,
  octetString,
  randomSerialHex,
  seq,
  signStructure,
  signatureAlgorithm,
  spkiDer,
  subjectNameOf,
} from './der.ts';

export type NameAttributes = { commonName: string; organizationName?: string };

/** What the certificate is for; each profile fixes the extensions a verifier checks. */
export type CertificateProfile = 'root-ca' | 'issuing-ca' | 'server' | 'client' | 'server-usage-only';

export interface Issuer {
  /** The issuer's certificate (DER); absent when self-signed. */
  certDer?: Buffer;
  /** The issuer's subject when self-signed (root CAs, self-signed rogues). */
  name?: NameAttributes;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/** A subject key: a KeyObject, or its SubjectPublicKeyInfo DER as generateEncodedKeys returns it. */
export type SubjectKey = KeyObject | Buffer;

export interface CertificateRequest {
  subject: NameAttributes;
  publicKey: SubjectKey;
  issuer: Issuer;
  profile: CertificateProfile;
  notBefore: Date;
  notAfter: Date;
  serialHex?: string;
  hash?: HashName;
  subjectAltNames?: { dns?: string[]; ip?: string[]; uri?: string[] };
}

export interface BuiltCertificate {
  pem: string;
  der: Buffer;
  serialHex: string;
}

// The public key forge places in its TBS is replaced by the real SubjectPublicKeyInfo from node:crypto, so any
// key type (EC included, which forge cannot represent) goes into the certificate. forge only needs *some* RSA key.
const PLACEHOLDER_KEY = forge.pki.setRsaPublicKey(
  new forge.jsbn.BigInteger('3'),
  new forge.jsbn.BigInteger('3'),
);

function nameToForge(name: NameAttributes): forge.pki.CertificateField[] {
  const fields: forge.pki.CertificateField[] = [];
  if (name.organizationName) fields.push({ name: 'organizationName', value: name.organizationName });
  // UTF8String (RFC 5280 4.1.2.6), not forge's PrintableString, which cannot hold '_' (valid in device ids).
  fields.push({
    name: 'commonName',
    value: name.commonName,
    valueTagClass: forge.asn1.Type.UTF8,
  } as unknown as forge.pki.CertificateField);
  return fields;
}

function spkiOf(key: SubjectKey): Buffer {
  return Buffer.isBuffer(key) ? key : spkiDer(key);
}

// rsaEncryption's OID (1.2.840.113549.1.1.1) as it appears, DER-encoded, inside an RSA SubjectPublicKeyInfo.
const RSA_ALGORITHM_DER = Buffer.from('06092a864886f70d010101', 'hex');

function extensionsFor(request: CertificateRequest): object[] {
  const subjectKeyId = keyIdentifierOfSpki(spkiOf(request.publicKey));
  const authorityKeyId = authorityKeyIdentifier(request.issuer);
  const isRsa = spkiOf(request.publicKey).subarray(0, 24).includes(RSA_ALGORITHM_DER);
  const common = [
    { name: 'subjectKeyIdentifier', value: octetString(subjectKeyId) },
    {
      name: 'authorityKeyIdentifier',
      value: seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId.toString('binary'))]),
    },
  ];
  switch (request.profile) {
    case 'root-ca':
      return [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ...common,
      ];
    case 'issuing-ca':
      return [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ...common,
      ];
    case 'server':
    case 'client':
    case 'server-usage-only': {
      const altNames = [
        ...(request.subjectAltNames?.dns ?? []).map((value) => ({ type: 2, value })),
        ...(request.subjectAltNames?.ip ?? []).map((ip) => ({ type: 7, ip })),
        ...(request.subjectAltNames?.uri ?? []).map((value) => ({ type: 6, value })),
      ];
      return [
        { name: 'basicConstraints', cA: false, critical: true },
        // RSA key exchange needs keyEncipherment in TLS 1.2; EC keys only ever sign.
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: isRsa, critical: true },
        request.profile === 'client'
          ? { name: 'extKeyUsage', clientAuth: true }
          : { name: 'extKeyUsage', serverAuth: true },
        ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
        ...common,
      ];
    }
  }
}

/**
 * Builds an X.509 v3 certificate: node-forge lays out the TBS structure (names, validity, extensions), node:crypto
 * supplies the SubjectPublicKeyInfo and the signature (SHA-256 unless a rogue asks for SHA-1).
 */
export async function buildCertificate(request: CertificateRequest): Promise<BuiltCertificate> {
  const hash = request.hash ?? 'sha256';
  const serialHex = request.serialHex ?? randomSerialHex();
  const tbs = buildTbs(request, serialHex);
  const der = await signStructure(tbs, request.issuer.privateKey, hash);
  return { der, pem: derToPem(der, 'CERTIFICATE'), serialHex };
}

/** The TBSCertificate of a request, as forge lays it out, with node:crypto's key and the issuer's exact name. */
export function buildTbs(request: CertificateRequest, serialHex: string): Asn1 {
  const hash = request.hash ?? 'sha256';
  const cert = forge.pki.createCertificate();
  cert.serialNumber = serialHex;
  cert.validity.notBefore = request.notBefore;
  cert.validity.notAfter = request.notAfter;
  cert.setSubject(nameToForge(request.subject));
  cert.setIssuer(nameToForge(request.issuer.name ?? request.subject));
  cert.setExtensions(extensionsFor(request));
  cert.publicKey = PLACEHOLDER_KEY;
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;

  const tbs = forgePki.getTBSCertificate(cert);
  const fields = tbs.value as Asn1[];
  fields[2] = signatureAlgorithm(request.issuer.privateKey, hash);
  // The issuer must repeat the issuer certificate's subject byte for byte, or chain building fails.
  if (request.issuer.certDer) fields[3] = subjectNameOf(request.issuer.certDer);
  fields[6] = fromDer(spkiOf(request.publicKey));
  return tbs;
}
