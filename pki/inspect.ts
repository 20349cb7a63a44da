import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { type Asn1, forgePki, fromDer } from './der.ts';
import type { CertificateStatus } from './types.ts';

export interface CertificateFacts {
  subject: string;
  commonName: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  keyUsage: string[];
  extKeyUsage: string[];
  subjectAltNames: string[];
  fingerprint256: string;
}

const KEY_USAGE_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
const EXT_KEY_USAGE_NAMES = [
  'serverAuth',
  'clientAuth',
  'codeSigning',
  'emailProtection',
  'timeStamping',
] as const;

/** node:crypto's subject text is one attribute per line, most significant first; make it one line. */
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/** forge decodes the extensions of any certificate (its typed parser refuses EC keys, its ASN.1 layer does not). */
function extensionsOf(der: Buffer): Array<Record<string, unknown>> {
  const tbs = (fromDer(der).value as Asn1[])[0]!.value as Asn1[];
  const explicit = tbs.find((node) => node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && node.type === 3);
  if (!explicit) return [];
  const list = (explicit.value as Asn1[])[0]!.value as Asn1[];
  return list.map((node) => forgePki.certificateExtensionFromAsn1(node));
}

export function inspectCertificate(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  const extensions = extensionsOf(cert.raw);
  const keyUsageExt = extensions.find((e) => e.name === 'keyUsage') ?? {};
  const extKeyUsageExt = extensions.find((e) => e.name === 'extKeyUsage') ?? {};
  const details = cert.publicKey.asymmetricKeyDetails;
  const keyType =
    cert.publicKey.asymmetricKeyType === 'ec'
      ? `ec-${details?.namedCurve === 'prime256v1' ? 'p256' : (details?.namedCurve ?? 'unknown')}`
      : `${cert.publicKey.asymmetricKeyType}-${details?.modulusLength ?? 0}`;
  return {
    subject: oneLine(cert.subject),
    commonName: /^CN=(.*)$/m.exec(cert.subject)?.[1] ?? '',
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    keyType,
    keyUsage: KEY_USAGE_NAMES.filter((name) => keyUsageExt[name] === true),
    extKeyUsage: EXT_KEY_USAGE_NAMES.filter((name) => extKeyUsageExt[name] === true),
    subjectAltNames: (cert.subjectAltName ?? '').split(', ').filter(Boolean),
    fingerprint256: cert.fingerprint256,
  };
}

export function statusOf(
  facts: Pick<CertificateFacts, 'notBefore' | 'notAfter'>,
  revoked: boolean,
  now = new Date(),
): CertificateStatus {
  if (revoked) return 'revoked';
  if (now < new Date(facts.notBefore)) return 'not-yet-valid';
  if (now > new Date(facts.notAfter)) return 'expired';
  return 'valid';
}
