/**
 * Why a TLS server refused a client certificate: certificate in, reason and detail out. The one place that decides
 * it — the broker's verification gate, the PKI's TLS tests and the rogue table tests all call this.
 *
 * Node's `authorizationError` alone is not enough: it holds OpenSSL's *last* verification error, so with CRLs loaded
 * an untrusted chain is reported as UNABLE_TO_GET_CRL (there is no CRL for a CA we do not know), a self-signed leaf
 * likewise, and codes Node has no name for (CA_MD_TOO_WEAK for a SHA-1 signature) as UNSPECIFIED. So the peer's
 * certificate is looked at, in this order, to name the first thing that is really wrong with it.
 */
import type { X509Certificate } from 'node:crypto';
import { type Reason, reasonFromVerifyCode } from '../core/reasons.ts';
import { type Asn1, asn1, fromDer } from './der.ts';

export interface Refusal {
  reason: Reason;
  /** Plain words, ending with what OpenSSL said. */
  detail: string;
}

/** Signature algorithms OpenSSL 3 refuses at security level ≥ 1 (the only list of them). */
const WEAK_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
};

/** Verification codes OpenSSL reports only for a chain it could build to our CA: they name the reason directly. */
const DIRECT = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'INVALID_PURPOSE']);

/** The OID of the algorithm a certificate was signed with (node:crypto on Node 20 does not expose it). */
export function signatureAlgorithmOid(cert: X509Certificate): string {
  const algorithm = ((fromDer(cert.raw).value as Asn1[])[1]!.value as Asn1[])[0]!;
  return asn1.derToOid(algorithm.value as string);
}

/** "CN=certfleet Root CA, O=certfleet" (X509Certificate puts one attribute per line). */
const oneLine = (name: string) => name.split('\n').join(', ');

/**
 * @param code   `socket.authorizationError` of the refused connection (any string, or nothing)
 * @param peer   the client's leaf certificate, if it presented one
 * @param issuers our CA certificates (root and issuing CA)
 */
export function diagnoseClientCertificate(
  code: string | null | undefined,
  peer: X509Certificate | undefined,
  issuers: readonly X509Certificate[],
): Refusal {
  const said = `OpenSSL said ${code || 'nothing'}`;
  if (!peer) return { reason: 'NO_CERTIFICATE', detail: 'no client certificate was presented' };
  const weak = WEAK_SIGNATURES[signatureAlgorithmOid(peer)];
  if (weak) {
    return {
      reason: 'WEAK_SIGNATURE',
      detail: `the certificate is signed with ${weak}, which is refused as too weak (${said})`,
    };
  }
  if (code && DIRECT.has(code)) return { reason: reasonFromVerifyCode(code), detail: code };
  // Not checkIssued(peer): it also wants keyCertSign, which a self-signed leaf need not carry.
  if (peer.subject === peer.issuer && peer.verify(peer.publicKey)) {
    return {
      reason: 'SELF_SIGNED',
      detail: `the certificate is its own issuer ("${oneLine(peer.issuer)}"), signed with its own key (${said})`,
    };
  }
  const sameName = issuers.filter((ca) => ca.subject === peer.issuer);
  if (sameName.length === 0) {
    return {
      reason: 'UNKNOWN_CA',
      detail: `issued by "${oneLine(peer.issuer)}", which is not our CA (${said})`,
    };
  }
  if (!sameName.some((ca) => peer.verify(ca.publicKey))) {
    return {
      reason: 'UNKNOWN_CA',
      detail: `the issuer's name matches ours but its key does not: a CA that copies "${oneLine(peer.issuer)}" (${said})`,
    };
  }
  if (code === 'CRL_HAS_EXPIRED' || code === 'CRL_NOT_YET_VALID') {
    return {
      reason: 'CRL_REJECTED',
      detail: `the broker's CRL is out of its validity window, so every device is refused until a fresh CRL is installed (${said})`,
    };
  }
  return { reason: reasonFromVerifyCode(code), detail: code || 'the certificate did not verify' };
}
