/** Why a TLS connection was refused, in the shared vocabulary. */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Reason } from '../core/reasons.ts';
import { diagnoseClientCertificate, type Refusal } from '../pki/index.ts';

/**
 * A handshake that completed but whose client certificate did not verify (the server runs with
 * rejectUnauthorized: false so that it can see, audit and answer this). The decision is pki/diagnosis.ts's.
 */
export function verificationRefusal(socket: TLSSocket, issuers: readonly X509Certificate[]): Refusal {
  return diagnoseClientCertificate(
    socket.authorizationError === undefined ? undefined : String(socket.authorizationError),
    socket.getPeerX509Certificate(),
    issuers,
  );
}

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
