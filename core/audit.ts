/**
 * The broker's audit record, shared by everyone who writes or reads it: the broker, the devices (which join a
 * rejection with the broker's verdict) and the dashboard. One type, one topic name, one parser.
 *
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
import { isReason, type Reason } from './reasons.ts';

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
  | 'crl-rejected'
  | 'enrollment-issued'
  | 'enrollment-refused'
  | 'policy-reloaded'
  | 'policy-rejected'
  | 'grant-withdrawn'
  | 'subscription-removed'
  | 'disconnected'
  // cluster nodes only (broker/cluster/): Redis lost and back; a CRL bundle or a policy from Redis that failed
  // verification (the one in force stays)
  | 'cluster-detached'
  | 'cluster-attached'
  | 'crl-refused'
  | 'policy-refused';

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
  /** The node that decided, when the broker runs as a node of a cluster (`--redis`, `--node-id`). */
  node?: string;
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
  /** The certificate the enrollment service issued (`enrollment-issued`). */
  issued?: { cn: string; serial: string; notAfter: string; via: 'rotation' | 'claim' };
  /** Extra words for a person: the OpenSSL code, the limit hit, the policy line that refused… */
  detail?: string;
  /** On an aggregated refusal: how many refusals of this kind from this address the record stands for. */
  count?: number;
}

/** Events that refuse a connection, a publish or a subscription (or end a session for a reason). */
export const REFUSAL_EVENTS: ReadonlySet<AuditEvent> = new Set<AuditEvent>([
  'handshake-refused',
  'connect-refused',
  'publish-denied',
  'subscribe-denied',
  'revoked-session-closed',
  'expired-session-closed',
  'disconnected',
]);

/** A refusal whose reason tells a device something it could not see itself (not OK, not its own goodbye). */
export function isInformativeRefusal(record: AuditRecord): boolean {
  return REFUSAL_EVENTS.has(record.event) && record.reason !== 'OK' && record.reason !== 'CLIENT_CLOSED';
}

const optionalString = (value: unknown) => value === undefined || typeof value === 'string';

/**
 * One audit record from its JSON (a line of the audit file, or a message on the audit topic); null for anything
 * that is not one — the readers must never crash on a line they do not understand, and never guess field names.
 */
export function parseAuditRecord(text: string | Buffer): AuditRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text.toString());
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.ts !== 'string' || typeof record.event !== 'string') return null;
  if (record.reason !== 'OK' && !isReason(record.reason)) return null;
  const peer = record.peer as { address?: unknown; port?: unknown } | undefined;
  if (peer !== undefined && (typeof peer !== 'object' || peer === null || typeof peer.port !== 'number'))
    return null;
  if (
    ![record.cn, record.clientId, record.topic, record.detail, record.tls, record.node].every(optionalString)
  )
    return null;
  if (record.connection !== undefined && typeof record.connection !== 'number') return null;
  if (record.count !== undefined && typeof record.count !== 'number') return null;
  return record as unknown as AuditRecord;
}
