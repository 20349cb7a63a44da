import forge from 'node-forge';
import { type BuiltCertificate, buildTbs, type CertificateRequest } from './certificate-builder.ts';
import {
  type Asn1,
  OID,
  asn1,
  derToPem,
  integerFromHex,
  keyIdentifierOfSpki,
  octetString,
  oid,
  randomSerialHex,
  seq,
  signStructure,
  time,
  toDer,
  wrapDer,
} from './der.ts';

export type LeafRequest = Omit<
  CertificateRequest,
  'subject' | 'publicKey' | 'notBefore' | 'notAfter' | 'serialHex'
>;

export interface LeafTemplate {
  build(
    commonName: string,
    spki: Buffer,
    notBefore: Date,
    notAfter: Date,
    serialHex?: string,
  ): Promise<BuiltCertificate>;
}

/**
 * Bulk issuance: forge lays out one prototype TBS for a profile and issuer; each leaf then re-encodes only what is
 * its own (serial, validity, subject, public key, subject key identifier) around the prototype's DER, instead of
 * rebuilding the whole structure — a leaf costs a fraction of a full forge build. `prototypeSpki` must be a key of
 * the same type as the leaves (the key usage differs between RSA and EC).
 */
export function createLeafTemplate(request: LeafRequest, prototypeSpki: Buffer): LeafTemplate {
  const prototype = buildTbs(
    {
      ...request,
      subject: { commonName: 'prototype' },
      publicKey: prototypeSpki,
      notBefore: new Date(),
      notAfter: new Date(),
    },
    '01',
  ).value as Asn1[];
  const [version, , signatureAlgorithm, issuer] = prototype.slice(0, 4).map(toDer);
  const extensions = ((prototype[7]!.value as Asn1[])[0]!.value as Asn1[]).map(toDer);
  const skiOid = toDer(oid(OID.subjectKeyIdentifier));
  const skiIndex = extensions.findIndex((ext) => ext.includes(skiOid));
  if (skiIndex < 0) throw new Error('leaf profile without a subject key identifier');
  const hash = request.hash ?? 'sha256';

  return {
    async build(commonName, spki, notBefore, notAfter, serialHex = randomSerialHex()) {
      const subject = seq([
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
          seq([
            oid(forge.pki.oids.commonName!),
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(commonName)),
          ]),
        ]),
      ]);
      const ski = toDer(
        seq([oid(OID.subjectKeyIdentifier), octetString(toDer(octetString(keyIdentifierOfSpki(spki))))]),
      );
      const ownExtensions = extensions.map((ext, index) => (index === skiIndex ? ski : ext));
      const tbs = wrapDer(0x30, [
        version!,
        toDer(integerFromHex(serialHex)),
        signatureAlgorithm!,
        issuer!,
        toDer(seq([time(notBefore), time(notAfter)])),
        toDer(subject),
        spki,
        wrapDer(0xa3, [wrapDer(0x30, ownExtensions)]),
      ]);
      const der = await signStructure(tbs, request.issuer.privateKey, hash);
      return { der, pem: derToPem(der, 'CERTIFICATE'), serialHex };
    },
  };
}
