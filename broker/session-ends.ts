/**
 * The life of an accepted session in the audit: one `connection-accepted` at the decision — before the CONNACK
 * goes out, so it precedes anything the client does next (a SUBSCRIBE right after CONNACK was recorded before it)
 * and a client gone before aedes' `clientReady` still has it (~45 % of short-lived clients had none) — and exactly
 * one `disconnected` at the end, whose reason is the cause the broker recorded (else the client closed it).
 * A verified connection that closes without a CONNECT gets its one `disconnected` too.
 */
import type { Aedes, Client } from 'aedes';
import type { Reason } from '../core/reasons.ts';
import type { AuditRecord } from './audit-record.ts';
import { auditBase, type ConnectionInfo, isPublishDenied, type SessionRegistry } from './authorization.ts';

function causeOf(error: Error): Reason {
  const message = error.message ?? '';
  if (/too many levels|maxInflightInbound|exceeds the limit/.test(message)) return 'LIMIT_EXCEEDED';
  if (/keep ?alive/.test(message)) return 'KEEPALIVE_TIMEOUT';
  if (/drain timeout/.test(message)) return 'SLOW_CONSUMER'; // aedes' own backstop: no drain for 60 s
  if (/ECONNRESET|EPIPE|connection closed/.test(message)) return 'CLIENT_CLOSED';
  return 'PROTOCOL_ERROR';
}

export interface SessionRecords {
  /** The session was granted (authenticate said yes): record its acceptance now, once. */
  accepted(client: Client): void;
  /** A verified connection closed: if no record said how it ended, say it closed before any CONNECT. */
  closed(info: ConnectionInfo): void;
}

export function watchSessionEnds(
  broker: Aedes,
  registry: SessionRegistry,
  infoOf: (client: Client) => ConnectionInfo | undefined,
  audit: (record: Omit<AuditRecord, 'ts'>) => void,
): SessionRecords {
  const acceptedInfos = new WeakSet<ConnectionInfo>();
  const accepted = (client: Client) => {
    const session = registry.sessions.get(client);
    if (!session || acceptedInfos.has(session.info)) return;
    acceptedInfos.add(session.info);
    audit({
      event: 'connection-accepted',
      reason: 'OK',
      ...auditBase(session.info, session.clientId),
      cert: session.info.cert,
      tls: session.info.tls,
    });
    // A session that ends before aedes registered it gets no clientDisconnect: end it from the socket (whose
    // close may already be past). An inline arrow: a named one would carry a property dictionary of its own
    // (tsx keeps function names with Object.defineProperty) for as long as the connection is held.
    if (client.conn.destroyed) endLater(client);
    else client.conn.once('close', () => endLater(client));
  };
  // Only for a session still open at its socket's close: the timer holds the client (its socket, streams, parser),
  // and holding every closed connection for 2 s got all of it promoted to V8's old generation. A session that ended
  // already (the usual case: aedes' clientDisconnect comes first) would find nothing to do in end().
  const endLater = (client: Client) => {
    if (registry.sessions.has(client)) setTimeout(end, 2000, client).unref();
  };
  const end = (client: Client) => {
    const session = registry.sessions.get(client);
    if (!session) return;
    registry.forget(session);
    session.info.settled = true;
    audit({
      event: 'disconnected',
      reason: session.cause ?? 'CLIENT_CLOSED',
      ...auditBase(session.info, session.clientId),
      ...(session.detail !== undefined && { detail: session.detail }),
    });
  };

  broker.on('clientReady', (client) => {
    const session = registry.sessions.get(client);
    if (!session) return;
    accepted(client); // normally recorded at the decision already
  });
  broker.on('clientDisconnect', end);
  broker.on('keepaliveTimeout', (client) => {
    const session = registry.sessions.get(client);
    if (session) session.cause ??= 'KEEPALIVE_TIMEOUT';
  });
  broker.on('clientError', (client, error) => {
    const session = registry.sessions.get(client);
    if (!session || session.cause) return;
    if (isPublishDenied(error)) return; // MQTT 5: answered with a reason code, the session goes on (audited already)
    session.cause = causeOf(error);
    if (session.cause !== 'CLIENT_CLOSED') session.detail = error.message;
  });
  broker.on('connectionError', (client, error) => {
    const info = infoOf(client);
    if (!info || info.settled) return;
    info.settled = true;
    const reason: Reason = /did not arrive in time/.test(error.message) ? 'TIMEOUT' : causeOf(error);
    audit({ event: 'connect-refused', reason, ...auditBase(info), cert: info.cert, detail: error.message });
  });
  return {
    accepted,
    closed(info) {
      if (info.settled || acceptedInfos.has(info)) return;
      info.settled = true;
      audit({
        event: 'disconnected',
        reason: 'CLIENT_CLOSED',
        ...auditBase(info),
        cert: info.cert,
        detail: 'closed after the TLS handshake, before any MQTT CONNECT',
      });
    },
  };
}
