/** What the broker reads from a peer's certificate: the identity (CN), and a summary for the audit. */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
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

/** What the gate needs of a verified peer: its identity and the audit's summary of its certificate. */
export interface VerifiedPeer {
  cn: string | null;
  cert: AuditCertificate;
}

/** Distinguished-name values that print the same in every form (nothing RFC 2253 escapes, no multi-values). */
const PLAIN_VALUE = /^[A-Za-z0-9._:@*()/-](?:[A-Za-z0-9 ._:@*()/-]*[A-Za-z0-9._:@*()/-])?$/;

/** A name from getPeerCertificate() as X509Certificate prints it ("O=x, CN=y"), or null when it might differ. */
function plainName(name: Record<string, string | string[]> | undefined): string | null {
  if (!name) return null;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(name)) {
    if (typeof value !== 'string' || !PLAIN_VALUE.test(value)) return null;
    parts.push(`${key}=${value}`);
  }
  return parts.length > 0 ? parts.join(', ') : null;
}

const issuerNamesCache = new WeakMap<readonly X509Certificate[], Map<string, string>>();

/** Our CAs' subjects keyed by their plain form, valued as the audit and the CRL index write them. */
function issuerNames(issuers: readonly X509Certificate[]): Map<string, string> {
  let names = issuerNamesCache.get(issuers);
  if (!names) {
    names = new Map();
    for (const ca of issuers) {
      const plain = plainName(ca.toLegacyObject().subject as unknown as Record<string, string | string[]>);
      if (plain !== null) names.set(plain, ca.subject.split('\n').join(', '));
    }
    issuerNamesCache.set(issuers, names);
  }
  return names;
}

/**
 * The identity and certificate summary of a peer whose chain verified, read with getPeerCertificate(): it returns
 * the certificate OpenSSL already holds, where getPeerX509Certificate() copies the leaf and its chain (an encode and
 * a full decode of each, key included) — the broker's largest JavaScript-side cost per connection in the `connect`
 * profile (6.7 % of the main thread's samples). The summary is exactly `summarizeCertificate`'s: a name is taken from
 * here only when it prints the same either way (plain values, an issuer that is one of our CAs, whose string is
 * then taken from the CA certificate itself, as the CRL index keys it); anything else returns null and the caller
 * takes the exact path.
 */
export function summarizeVerifiedPeer(
  socket: TLSSocket,
  issuers: readonly X509Certificate[],
): VerifiedPeer | null {
  const peer = socket.getPeerCertificate() as PeerCertificate | Record<string, never>;
  if (!peer || !('subject' in peer)) return null;
  const subjectFields = peer.subject as unknown as Record<string, string | string[]>;
  const subject = plainName(subjectFields);
  const issuerPlain = plainName(peer.issuer as unknown as Record<string, string | string[]>);
  const issuer = issuerPlain === null ? undefined : issuerNames(issuers).get(issuerPlain);
  if (subject === null || issuer === undefined) return null;
  const cn = subjectFields.CN;
  return {
    cn: typeof cn === 'string' ? cn : null,
    cert: {
      subject,
      issuer,
      serial: normalizeSerial(peer.serialNumber),
      fingerprint256: peer.fingerprint256,
      validFrom: new Date(peer.valid_from).toISOString(),
      validTo: new Date(peer.valid_to).toISOString(),
    },
  };
}
