/**
 * The audit record: one JSON object per line in `<stateDir>/audit.jsonl`, and the payload of every message on
 * the audit topic (`$SYS/certfleet/audit`, readable only by identities the policy grants, e.g. `dashboard`).
 *
 * Lifecycle of one TCP connection, in records:
 * - refused before MQTT: `handshake-refused` (TLS failed, or a limit dropped it before the handshake). A
 *   connection whose certificate did not verify never reaches the MQTT layer.
 * - refused at CONNECT: `connect-refused` (UNKNOWN_IDENTITY, CLIENT_ID_MISMATCH, REVOKED, LIMIT_EXCEEDED…).
 * - accepted: `connection-accepted`, then any `publish-denied` / `subscribe-denied` / `revoked-session-closed` /
 *   `expired-session-closed` (at the certificate's notAfter)
 *   decisions, then exactly one `disconnected` whose `reason` is the cause (CLIENT_CLOSED, PUBLISH_DENIED,
 *   REVOKED, KEEPALIVE_TIMEOUT, PROTOCOL_ERROR, LIMIT_EXCEEDED, SERVER_SHUTDOWN…).
 * `connection` numbers the TCP connections of one broker run, so the records of one connection can be joined.
 */
import type { Reason } from '../core/reasons.ts';

export const AUDIT_TOPIC = '$SYS/certfleet/audit';

export type AuditEvent =
  | 'broker-started'
  | 'broker-stopped'
  | 'connection-accepted'
  | 'handshake-refused'
  | 'connect-refused'
  | 'publish-denied'
  | 'subscribe-denied'
  | 'revoked-session-closed'
  | 'expired-session-closed'
  | 'crl-reloaded'
  | 'policy-reloaded'
  | 'policy-rejected'
  | 'grant-withdrawn'
  | 'subscription-removed'
  | 'disconnected';

/** The certificate a peer presented, as the broker saw it. */
export interface AuditCertificate {
  /** e.g. "CN=sensor-001, O=certfleet" */
  subject: string;
  issuer: string;
  /** Hex, upper case, no separators (as `certfleet pki show` prints it). */
  serial: string;
  /** Colon-separated upper-case hex SHA-256 of the DER certificate. */
  fingerprint256: string;
  validFrom: string;
  validTo: string;
}

export interface AuditRecord {
  /** ISO 8601 time of the decision. */
  ts: string;
  event: AuditEvent;
  /** Why: 'OK' for accepted connections and broker events, else a code of the shared vocabulary. */
  reason: Reason | 'OK';
  /** Sequence number of the TCP connection in this broker run (absent for broker events). */
  connection?: number;
  /** The certificate's CN (the identity), once the certificate verified or when one was presented. */
  cn?: string;
  /** The MQTT client id from CONNECT, when one arrived. */
  clientId?: string;
  peer?: { address: string; port: number };
  /** The presented certificate: on refusals and on acceptance. */
  cert?: AuditCertificate;
  /** TLS protocol of the session, e.g. 'TLSv1.3'. */
  tls?: string;
  /** The topic or topic filter of a publish/subscribe decision. */
  topic?: string;
  /** Extra words for a person: the OpenSSL code, the limit hit, the policy line that refused… */
  detail?: string;
  /** On an aggregated refusal: how many refusals of this kind from this address the record stands for. */
  count?: number;
}
