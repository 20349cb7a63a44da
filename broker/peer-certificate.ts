/** What the broker reads from a peer's certificate: the identity (CN), and a summary for the audit. */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { AuditCertificate } from './audit-record.ts';

/** Serial numbers compared across Node and the CRL: upper-case hex without DER's leading zero bytes. */
export function normalizeSerial(serial: string): string {
  return serial
    .toUpperCase()
    .replace(/[^0-9A-F]/g, '')
    .replace(/^(00)+(?=[0-9A-F]{2})/, '');
}

/**
 * A revocation names a certificate by issuer AND serial (RFC 5280 5.3.3: serials are unique per issuer only), so a
 * serial revoked by one CA never refuses a certificate of another that happens to carry the same number.
 * `issuer` is the issuer as the audit writes it ("O=certfleet, CN=certfleet Issuing CA").
 */
export function revocationKey(issuer: string, serial: string): string {
  return `${issuer}|${normalizeSerial(serial)}`;
}

export function summarizeCertificate(cert: X509Certificate): AuditCertificate {
  return {
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    serial: normalizeSerial(cert.serialNumber),
    fingerprint256: cert.fingerprint256,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
  };
}

/**
 * The identity: the subject's single CN. A subject with several CNs is ambiguous and yields null (the
 * connection is then refused as UNKNOWN_IDENTITY), so no one can pick which CN the policy sees.
 */
export function commonNameOf(socket: TLSSocket, x509?: X509Certificate): string | null {
  // Fast path: the X509Certificate the gate holds already (getPeerCertificate() would convert the whole certificate
  // into a JS object once more, per connection). Its subject is one `KEY=value` per line, RFC 2253-escaped: a
  // subject with anything escaped or multi-valued (` + `) takes the exact path below.
  const text = x509?.subject;
  if (text !== undefined && !text.includes('\\') && !text.includes(' + ')) {
    const cns = text.split('\n').filter((line) => line.startsWith('CN='));
    return cns.length === 1 ? cns[0]!.slice(3) : null;
  }
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined;
  const cn = subject?.CN;
  return typeof cn === 'string' ? cn : null;
}
