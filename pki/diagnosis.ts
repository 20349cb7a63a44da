import type { X509Certificate } from 'node:crypto';
import { type Reason, reasonFromVerifyCode } from '../core/reasons.ts';
import { type Asn1, asn1, fromDer } from './der.ts';

const WEAK_SIGNATURE_OIDS = new Set([
  '1.2.840.113549.1.1.4', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5', // sha1WithRSAEncryption
  '1.2.840.10045.4.1', // ecdsa-with-SHA1
  '1.2.840.10040.4.3', // dsa-with-sha1
]);

/** The OID of the algorithm a certificate was signed with (node:crypto on Node 20 does not expose it). */
export function signatureAlgorithmOid(cert: X509Certificate): string {
  const algorithm = ((fromDer(cert.raw).value as Asn1[])[1]!.value as Asn1[])[0]!;
  return asn1.derToOid(algorithm.value as string);
}

/**
 * Why a TLS server refused a client certificate, in the shared vocabulary.
 *
 * Node's `authorizationError` is not enough on its own: it holds OpenSSL's *last* verification error, so with CRLs
 * loaded an untrusted chain is reported as UNABLE_TO_GET_CRL (there is no CRL for a CA we do not know); a missing
 * certificate as UNABLE_TO_GET_ISSUER_CERT; and codes Node has no name for (CA_MD_TOO_WEAK) as UNSPECIFIED.
 * So the peer's certificate is looked at to name the first thing that is really wrong with it.
 */
export function diagnoseClientCertificate(
  code: string | null | undefined,
  peer: X509Certificate | undefined,
  issuingCa: X509Certificate,
): Reason {
  if (!peer) return 'NO_CERTIFICATE';
  const direct: Record<string, Reason> = {
    CERT_HAS_EXPIRED: 'EXPIRED',
    CERT_NOT_YET_VALID: 'NOT_YET_VALID',
    CERT_REVOKED: 'REVOKED',
    INVALID_PURPOSE: 'WRONG_KEY_USAGE',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'SELF_SIGNED',
  };
  if (code && direct[code]) return direct[code];
  if (WEAK_SIGNATURE_OIDS.has(signatureAlgorithmOid(peer))) return 'WEAK_SIGNATURE';
  // Not checkIssued: it also wants keyCertSign, which a self-signed leaf lacks.
  if (peer.subject === peer.issuer && peer.verify(peer.publicKey)) return 'SELF_SIGNED';
  if (!peer.checkIssued(issuingCa) || !peer.verify(issuingCa.publicKey)) return 'UNKNOWN_CA';
  return reasonFromVerifyCode(code);
}
