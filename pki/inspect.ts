import { createHash } from 'node:crypto';
import forge from 'node-forge';
import { type Asn1, forgePki, fromDer, pemToDer } from './der.ts';
import type { CertificateStatus, IdentityInfo } from './types.ts';

/** What a certificate says about itself: the part of IdentityInfo read from the PEM. */
export type CertificateFacts = Omit<IdentityInfo, 'id' | 'role' | 'rogueKind' | 'status' | 'paths'>;

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

const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'p256',
  '1.3.132.0.34': 'p384',
  '1.3.132.0.35': 'p521',
};

function nameToString(name: Asn1): string {
  return forgePki
    .RDNAttributesAsArray(name)
    .map((attribute) => `${attribute.shortName ?? attribute.type}=${attribute.value}`)
    .join(', ');
}

function timeOf(node: Asn1): string {
  const date =
    node.type === forge.asn1.Type.UTCTIME
      ? forge.asn1.utcTimeToDate(node.value as string)
      : forge.asn1.generalizedTimeToDate(node.value as string);
  return date.toISOString();
}

function keyTypeOf(spki: Asn1): string {
  const [algorithm, bits] = spki.value as Asn1[];
  const [oid, parameters] = algorithm!.value as Asn1[];
  const algorithmOid = forge.asn1.derToOid(oid!.value as string);
  if (algorithmOid === '1.2.840.10045.2.1') {
    const curve = parameters ? forge.asn1.derToOid(parameters.value as string) : '';
    return `ec-${CURVES[curve] ?? curve}`;
  }
  if (algorithmOid === '1.2.840.113549.1.1.1') {
    // forge decodes a BIT STRING that holds valid DER (the RSAPublicKey) into its children.
    const rsaKey = Array.isArray(bits!.value)
      ? bits!.value[0]!
      : fromDer(Buffer.from((bits!.value as string).slice(1), 'binary'));
    const modulus = ((rsaKey.value as Asn1[])[0]!.value as string).replace(/^\x00/, '');
    return `rsa-${modulus.length * 8}`;
  }
  return algorithmOid;
}

/** Alternative names as OpenSSL prints them (`DNS:localhost`, `IP Address:0:0:0:0:0:0:0:1`). */
function altNameToString(altName: { type: number; value: string }): string {
  if (altName.type === 2) return `DNS:${altName.value}`;
  if (altName.type === 7) {
    const bytes = Buffer.from(altName.value, 'binary');
    if (bytes.length === 4) return `IP Address:${[...bytes].join('.')}`;
    const groups = Array.from({ length: 8 }, (_, i) =>
      bytes
        .readUInt16BE(i * 2)
        .toString(16)
        .toUpperCase(),
    );
    return `IP Address:${groups.join(':')}`;
  }
  if (altName.type === 1) return `email:${altName.value}`;
  if (altName.type === 6) return `URI:${altName.value}`;
  return `othername:${altName.type}`;
}

/**
 * Everything `pki show` reports, read with forge's generic ASN.1 parser (its typed parser refuses EC keys;
 * node:crypto's X509Certificate costs ~0.3 ms a certificate, which adds up over a thousand-device batch).
 */
export function inspectCertificate(pem: string): CertificateFacts {
  const der = pemToDer(pem);
  const certificate = fromDer(der).value as Asn1[];
  const tbs = certificate[0]!.value as Asn1[];
  const offset = tbs[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0; // v1 certificates have no version
  const [serial, , issuer, validity, subject, spki] = tbs.slice(offset);
  const [notBefore, notAfter] = validity!.value as Asn1[];
  const explicit = tbs.find((node) => node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && node.type === 3);
  const extensions = explicit
    ? ((explicit.value as Asn1[])[0]!.value as Asn1[]).map((node) =>
        forgePki.certificateExtensionFromAsn1(node),
      )
    : [];
  const keyUsageExt = extensions.find((e) => e.name === 'keyUsage') ?? {};
  const extKeyUsageExt = extensions.find((e) => e.name === 'extKeyUsage') ?? {};
  const altNames = (extensions.find((e) => e.name === 'subjectAltName')?.altNames ?? []) as Array<{
    type: number;
    value: string;
  }>;
  const subjectText = nameToString(subject!);
  const fingerprint = createHash('sha256').update(der).digest('hex').toUpperCase();
  return {
    subject: subjectText,
    commonName: /(?:^|, )CN=([^,]*)/.exec(subjectText)?.[1] ?? '',
    issuer: nameToString(issuer!),
    serial: forge.util
      .bytesToHex(serial!.value as string)
      .toUpperCase()
      .replace(/^(00)+(?=[0-9A-F]{2})/, ''),
    notBefore: timeOf(notBefore!),
    notAfter: timeOf(notAfter!),
    keyType: keyTypeOf(spki!),
    keyUsage: KEY_USAGE_NAMES.filter((name) => keyUsageExt[name] === true),
    extKeyUsage: EXT_KEY_USAGE_NAMES.filter((name) => extKeyUsageExt[name] === true),
    subjectAltNames: altNames.map(altNameToString),
    fingerprint256: fingerprint.match(/../g)!.join(':'),
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
