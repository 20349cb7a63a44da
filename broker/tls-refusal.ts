/** Why a TLS connection was refused, in the shared vocabulary. */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import { type Reason, reasonFromVerifyCode } from '../core/reasons.ts';

/**
 * A handshake that completed but whose client certificate did not verify (the server runs with
 * rejectUnauthorized: false so that it can see, audit and answer this). No certificate at all shows up as
 * an unverified socket without a peer certificate.
 */
export function verificationRefusal(
  socket: TLSSocket,
  issuers: readonly X509Certificate[],
): { reason: Reason; detail: string } {
  const code = String(socket.authorizationError ?? 'UNKNOWN');
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return { reason: 'NO_CERTIFICATE', detail: 'no client certificate' };
  if (SIGNATURE_CODES.has(code) && isWeakSignature(leaf)) {
    return { reason: 'WEAK_SIGNATURE', detail: `${code}: signed with ${signatureAlgorithmOf(leaf)}` };
  }
  if (!CRL_CODES.has(code)) return { reason: reasonFromVerifyCode(code), detail: code };
  // OpenSSL reports the *last* error of the chain walk, and with CRLs loaded a certificate from a foreign CA
  // ends in "no CRL for its issuer". The first error is the one a person needs: is it ours at all?
  const ours = issuers.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  if (ours) return { reason: reasonFromVerifyCode(code), detail: code };
  // Not checkIssued(leaf): it also wants keyCertSign, which a self-signed leaf need not carry.
  const selfSigned = leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey);
  return selfSigned
    ? { reason: 'SELF_SIGNED', detail: `DEPTH_ZERO_SELF_SIGNED_CERT (OpenSSL said ${code})` }
    : { reason: 'UNKNOWN_CA', detail: `not issued by our CA (OpenSSL said ${code})` };
}

/** OpenSSL 3 at security level 1 will not verify a SHA-1 signature, and says so in one of these ways. */
const SIGNATURE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CA_MD_TOO_WEAK',
]);

const WEAK_SIGNATURE_OIDS: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
};

/** The outer signatureAlgorithm OID of a certificate (Node 20's X509Certificate does not expose it). */
function signatureAlgorithmOf(cert: X509Certificate): string {
  try {
    const outer = forge.asn1.fromDer(forge.util.createBuffer(cert.raw.toString('binary')))
      .value as forge.asn1.Asn1[];
    const oid = forge.asn1.derToOid((outer[1]!.value as forge.asn1.Asn1[])[0]!.value as string);
    return WEAK_SIGNATURE_OIDS[oid] ?? oid;
  } catch {
    return 'unknown';
  }
}

function isWeakSignature(cert: X509Certificate): boolean {
  return Object.values(WEAK_SIGNATURE_OIDS).includes(signatureAlgorithmOf(cert));
}

const CRL_CODES = new Set([
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_GET_CRL_ISSUER',
  'CRL_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
]);

/** A handshake OpenSSL itself aborted (`tlsClientError`). */
export function handshakeErrorReason(error: NodeJS.ErrnoException): Reason {
  const code = error.code ?? '';
  switch (code) {
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'TIMEOUT';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'CLIENT_CLOSED';
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'NO_CERTIFICATE';
    case 'ERR_SSL_BAD_SIGNATURE':
    case 'ERR_SSL_DIGEST_CHECK_FAILED':
      return 'KEY_MISMATCH'; // CertificateVerify did not verify: the key is not the certificate's
  }
  // The client refused *our* certificate and told us with an alert.
  if (/^ERR_SSL_(SSLV3|TLSV1)_ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/.test(code)) {
    return 'SERVER_UNTRUSTED';
  }
  return 'PROTOCOL_ERROR';
}
