import { buildTbs, type BuiltCertificate, type CertificateRequest } from './certificate-builder.ts';
import { type Asn1, OID, derToPem, oid, randomSerialHex, signDer, toDer } from './der.ts';
import { type LeafPrototype, leafTbs, signedCertificate } from './leaf-der.ts';

export type LeafRequest = Omit<
  CertificateRequest,
  'subject' | 'publicKey' | 'notBefore' | 'notAfter' | 'serialHex'
>;

export interface LeafTemplate {
  /** The shared DER of every leaf of this template (what a leaf worker thread is given). */
  readonly prototype: LeafPrototype;
  build(
    commonName: string,
    spki: Buffer,
    notBefore: Date,
    notAfter: Date,
    serialHex?: string,
  ): Promise<BuiltCertificate>;
}

/**
 * Bulk issuance: forge lays out one prototype TBS for a profile and issuer; each leaf then encodes only what is its
 * own (serial, validity, subject, public key, subject key identifier) around the prototype's DER, in plain Buffers
 * (leaf-der.ts) — a leaf costs a fraction of a full forge build. `prototypeSpki` must be a key of the same type as
 * the leaves (the key usage differs between RSA and EC).
 */
export function createLeafTemplate(request: LeafRequest, prototypeSpki: Buffer): LeafTemplate {
  const fields = buildTbs(
    {
      ...request,
      subject: { commonName: 'prototype' },
      publicKey: prototypeSpki,
      notBefore: new Date(),
      notAfter: new Date(),
    },
    '01',
  ).value as Asn1[];
  const [version, , signatureAlgorithm, issuer] = fields.slice(0, 4).map(toDer);
  const extensions = ((fields[7]!.value as Asn1[])[0]!.value as Asn1[]).map(toDer);
  const skiOid = toDer(oid(OID.subjectKeyIdentifier));
  const skiIndex = extensions.findIndex((ext) => ext.includes(skiOid));
  if (skiIndex < 0) throw new Error('leaf profile without a subject key identifier');
  const prototype: LeafPrototype = {
    version: version!,
    signatureAlgorithm: signatureAlgorithm!,
    issuer: issuer!,
    extensions,
    skiIndex,
    hash: request.hash ?? 'sha256',
  };

  return {
    prototype,
    async build(commonName, spki, notBefore, notAfter, serialHex = randomSerialHex()) {
      const tbs = leafTbs(prototype, commonName, spki, notBefore, notAfter, serialHex);
      const signature = await signDer(prototype.hash, tbs, request.issuer.privateKey);
      const der = signedCertificate(prototype, tbs, signature);
      return { der, pem: derToPem(der, 'CERTIFICATE'), serialHex };
    },
  };
}
