/**
 * One vocabulary for every decision, shared by the broker's audit, the devices' diagnosis and the UI.
 * The codes are a contract: tests, JSON output and the audit file use them verbatim.
 */
export const REASONS = {
  OK: 'accepted',
  NO_CERTIFICATE: 'no client certificate was presented',
  UNKNOWN_CA: 'the certificate was not issued by a trusted CA',
  SELF_SIGNED: 'the certificate is self-signed',
  EXPIRED: 'the certificate has expired',
  NOT_YET_VALID: 'the certificate is not valid yet',
  REVOKED: 'the certificate has been revoked',
  WRONG_KEY_USAGE: 'the certificate is not allowed for client authentication',
  WEAK_SIGNATURE: 'the certificate is signed with a weak algorithm (SHA-1)',
  KEY_MISMATCH: 'the private key does not belong to the certificate',
  UNKNOWN_IDENTITY: 'the certificate is valid but its name is not in the policy',
  CLIENT_ID_MISMATCH: 'the MQTT client id differs from the certificate name',
  PUBLISH_DENIED: 'publishing to this topic is not allowed by the policy',
  SUBSCRIBE_DENIED: 'subscribing to this topic filter is not allowed by the policy',
  SERVER_UNTRUSTED: 'the broker certificate is not from the trusted CA',
  HOSTNAME_MISMATCH: 'the broker certificate does not name the host connected to',
  PROTOCOL_ERROR: 'the peer broke the TLS or MQTT protocol',
  BROKER_UNREACHABLE: 'the broker could not be reached',
  TIMEOUT: 'the peer did not answer in time',
  KEEPALIVE_TIMEOUT: 'the connection went silent past its keepalive',
  CLIENT_CLOSED: 'the connection was closed by the client',
  SESSION_TAKEN_OVER:
    'taken over: another connection used the same client id (the broker keeps the newer one)',
  SERVER_SHUTDOWN: 'the broker is shutting down',
  SLOW_CONSUMER: 'the client did not read its messages: its outbound buffer passed the limit',
  CSR_INVALID: 'the certificate request is malformed or its signature does not verify',
  WEAK_KEY: 'the certificate request carries a key too weak to certify (EC P-256/P-384 or RSA ≥ 2048 only)',
  CN_NOT_ALLOWED: 'the certificate request asks for a name this certificate may not obtain',
  CLAIM_QUOTA_EXCEEDED: 'the claim certificate has obtained as many identities as its quota allows',
  ENROLLMENT_UNAVAILABLE: 'enrollment over MQTT is not granted by the policy, or the broker did not answer',
  POLICY_INVALID:
    'the edited policy file, or a policy from the cluster store, is invalid or not signed by our broker: the policy in force stays',
  CRL_REJECTED:
    "the broker's revocation list (CRL) is unusable — bad, older, forged or expired: the last good one stays in force, and with none left every device is refused",
  LIMIT_EXCEEDED: 'a broker limit was exceeded (connections, packet size, topic depth)',
  BROKER_BUSY:
    'the broker is busy (at its handshake capacity, or a deadline ran out under load): not a refusal, the device retries later',
  CLOSED_BY_BROKER: 'closed by the broker after the handshake (the broker audit has the reason)',
  CLUSTER_UNAVAILABLE:
    'the broker lost its cluster store (Redis) and takes no new connections until it is back',
} as const;

export type Reason = keyof typeof REASONS;

/**
 * A few words per reason, for a line that counts devices by reason (`backing-off: 12 (broker busy: 10, …)`); the
 * sentence above stays the explanation. A Record over every reason: a new reason cannot be added without its words.
 */
const BRIEF: Record<Reason, string> = {
  OK: 'accepted',
  NO_CERTIFICATE: 'no certificate',
  UNKNOWN_CA: 'unknown CA',
  SELF_SIGNED: 'self-signed',
  EXPIRED: 'expired',
  NOT_YET_VALID: 'not yet valid',
  REVOKED: 'revoked',
  WRONG_KEY_USAGE: 'wrong key usage',
  WEAK_SIGNATURE: 'weak signature',
  KEY_MISMATCH: 'key mismatch',
  UNKNOWN_IDENTITY: 'not in the policy',
  CLIENT_ID_MISMATCH: 'client id mismatch',
  PUBLISH_DENIED: 'publish denied',
  SUBSCRIBE_DENIED: 'subscribe denied',
  SERVER_UNTRUSTED: 'broker untrusted',
  HOSTNAME_MISMATCH: 'hostname mismatch',
  PROTOCOL_ERROR: 'protocol error',
  BROKER_UNREACHABLE: 'broker unreachable',
  TIMEOUT: 'no answer in time',
  KEEPALIVE_TIMEOUT: 'keepalive timeout',
  CLIENT_CLOSED: 'closed by the client',
  SESSION_TAKEN_OVER: 'taken over',
  SERVER_SHUTDOWN: 'broker shutting down',
  SLOW_CONSUMER: 'slow consumer',
  CSR_INVALID: 'invalid certificate request',
  WEAK_KEY: 'weak key',
  CN_NOT_ALLOWED: 'name not allowed',
  CLAIM_QUOTA_EXCEEDED: 'claim quota exceeded',
  ENROLLMENT_UNAVAILABLE: 'enrollment unavailable',
  POLICY_INVALID: 'policy invalid',
  CRL_REJECTED: 'CRL rejected',
  LIMIT_EXCEEDED: 'broker limit',
  BROKER_BUSY: 'broker busy',
  CLOSED_BY_BROKER: 'closed by the broker',
  CLUSTER_UNAVAILABLE: 'cluster unavailable',
};

export function briefReason(reason: Reason): string {
  return BRIEF[reason];
}

export function describeReason(reason: Reason): string {
  return REASONS[reason];
}

export function isReason(value: unknown): value is Reason {
  return typeof value === 'string' && Object.hasOwn(REASONS, value);
}

/**
 * Maps OpenSSL's verification error codes (as Node reports them in `socket.authorizationError` or
 * `error.code`) onto the vocabulary. Unknown codes fall back to UNKNOWN_CA: the chain did not verify.
 */
const OPENSSL_VERIFY_CODES: Record<string, Reason> = {
  CERT_HAS_EXPIRED: 'EXPIRED',
  CERT_NOT_YET_VALID: 'NOT_YET_VALID',
  CERT_REVOKED: 'REVOKED',
  INVALID_PURPOSE: 'WRONG_KEY_USAGE',
  CA_MD_TOO_WEAK: 'WEAK_SIGNATURE',
  EE_KEY_TOO_SMALL: 'WEAK_SIGNATURE',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'SELF_SIGNED',
  SELF_SIGNED_CERT_IN_CHAIN: 'UNKNOWN_CA',
  UNABLE_TO_GET_ISSUER_CERT: 'UNKNOWN_CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'UNKNOWN_CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'UNKNOWN_CA',
  CERT_SIGNATURE_FAILURE: 'UNKNOWN_CA',
  CERT_UNTRUSTED: 'UNKNOWN_CA',
  CERT_REJECTED: 'UNKNOWN_CA',
  ERR_TLS_CERT_ALTNAME_INVALID: 'HOSTNAME_MISMATCH',
  HOSTNAME_MISMATCH: 'HOSTNAME_MISMATCH',
  UNABLE_TO_GET_CRL: 'REVOKED',
  CRL_HAS_EXPIRED: 'CRL_REJECTED', // the broker's CRL, not the device: everyone is refused until a fresh one
};

export function reasonFromVerifyCode(code: string | undefined | null): Reason {
  if (!code) return 'UNKNOWN_CA';
  return OPENSSL_VERIFY_CODES[code] ?? 'UNKNOWN_CA';
}
