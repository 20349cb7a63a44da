/**
 * The aedes hooks: CONNECT → identity and grant (authenticate), then every publish, subscribe and delivery
 * checked against the grant compiled for that connection. Every refusal is audited here, at the decision.
 */
import type { AedesOptions, AuthenticateError, Client, ConnectPacket } from 'aedes';
import type { Reason } from '../core/reasons.ts';
import type { AuditRecord } from './audit-record.ts';
import type { BrokerLimits } from './limits.ts';
import type { Grant, Policy } from './policy.ts';
import { revocationKey } from './peer-certificate.ts';

/** What the TLS gate learned about a verified connection before handing it to aedes. */
export interface ConnectionInfo {
  readonly connection: number;
  readonly peer: { address: string; port: number };
  readonly cn: string | null;
  readonly cert: NonNullable<AuditRecord['cert']>;
  readonly tls: string;
  /** Set once a record has said how this connection ended or was refused, so it is said only once. */
  settled?: boolean;
}

export interface Session {
  readonly info: ConnectionInfo;
  readonly client: Client;
  readonly clientId: string;
  /** Replaced when the policy reloads (broker/policy-watch.ts). */
  grant: Grant;
  /** Why the broker is ending the session, once it decided to (else the client closed it). */
  cause?: Reason;
  detail?: string;
}

export interface AuthorizationContext {
  policy(): Policy;
  revoked(): ReadonlySet<string>;
  limits: BrokerLimits;
  infoOf(client: Client): ConnectionInfo | undefined;
  audit(record: Omit<AuditRecord, 'ts'>): void;
}

type Hooks = Required<
  Pick<
    AedesOptions,
    'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'
  >
>;

export function auditBase(
  info: ConnectionInfo,
  clientId?: string,
): Omit<AuditRecord, 'ts' | 'event' | 'reason'> {
  return {
    connection: info.connection,
    ...(info.cn !== null && { cn: info.cn }),
    ...(clientId !== undefined && { clientId }),
    peer: info.peer,
  };
}

/** A publish refused by the policy: an answer to the client, not a broken session (see session-ends.ts). */
export function publishDenied(message: string): Error {
  return Object.assign(new Error(message), { publishDenied: true });
}

export function isPublishDenied(error: Error): boolean {
  return (error as { publishDenied?: boolean }).publishDenied === true;
}

function notAuthorized(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: 5 as const });
}

export interface SessionRegistry {
  readonly sessions: ReadonlyMap<Client, Session>;
  /** The session ended (or never started): forget it. */
  forget(session: Session): void;
}

export function createAuthorization(context: AuthorizationContext): Hooks & SessionRegistry {
  const sessions = new Map<Client, Session>();
  const sessionsById = new Map<string, Session>();
  const connectPackets = new WeakMap<Client, ConnectPacket>();

  /** Why this CONNECT is refused, or a grant. */
  function decide(client: Client, info: ConnectionInfo): { reason: Reason; detail: string } | Grant {
    const packet = connectPackets.get(client);
    if (context.revoked().has(revocationKey(info.cert.issuer, info.cert.serial))) {
      return { reason: 'REVOKED', detail: "issuer and serial are in the issuer's CRL" };
    }
    const { keepaliveLimit } = context.limits;
    const keepalive = packet?.keepalive ?? 0;
    if (keepaliveLimit > 0 && (keepalive === 0 || keepalive > keepaliveLimit)) {
      return { reason: 'LIMIT_EXCEEDED', detail: `keepalive ${keepalive}s (allowed 1–${keepaliveLimit}s)` };
    }
    const policy = context.policy();
    if (info.cn === null) return { reason: 'UNKNOWN_IDENTITY', detail: 'the certificate has no single CN' };
    const resolved = policy.resolve(info.cn);
    if ('refused' in resolved) return { reason: 'UNKNOWN_IDENTITY', detail: resolved.refused };
    if (policy.requireClientIdMatchesCn && client.id !== info.cn) {
      return {
        reason: 'CLIENT_ID_MISMATCH',
        detail: `client id "${packet?.clientId ?? ''}" ≠ CN "${info.cn}"`,
      };
    }
    const will = packet?.will;
    if (will && !resolved.canPublish(will.topic)) {
      return { reason: 'PUBLISH_DENIED', detail: `last will on "${will.topic}" is outside the grant` };
    }
    return resolved;
  }

  return {
    sessions,
    forget(session) {
      sessions.delete(session.client);
      if (sessionsById.get(session.clientId) === session) sessionsById.delete(session.clientId);
    },

    preConnect(client, packet, callback) {
      connectPackets.set(client, packet);
      callback(null, true);
    },

    authenticate(client, _username, _password, done) {
      // Username and password are ignored: the certificate is the credential.
      const info = context.infoOf(client);
      const clientId = connectPackets.get(client)?.clientId ?? '';
      if (!info) return done(notAuthorized('connection did not pass the TLS gate'), false); // cannot happen
      const decision = decide(client, info);
      if ('reason' in decision) {
        info.settled = true;
        context.audit({
          event: 'connect-refused',
          ...auditBase(info, clientId),
          ...decision,
          cert: info.cert,
        });
        return done(notAuthorized(decision.detail), false);
      }
      const previous = sessionsById.get(clientId);
      if (previous && previous.client !== client) {
        // aedes closes the older session with this client id [MQTT-3.1.4-2]: say why in its disconnect record
        previous.cause ??= 'CLIENT_CLOSED';
        previous.detail ??= `taken over by connection ${info.connection} with the same client id`;
      }
      const session: Session = { info, client, clientId, grant: decision };
      sessions.set(client, session);
      sessionsById.set(clientId, session);
      done(null, true);
    },

    authorizePublish(client, packet, callback) {
      if (!client) return callback(null); // the broker's own messages (the audit feed)
      const session = sessions.get(client);
      if (!session) return callback(new Error('no session'));
      if (session.cause === 'REVOKED') return callback(new Error('revoked')); // not even its last will
      if (session.grant.canPublish(packet.topic)) return callback(null);
      const isWill = packet === (client as Client & { will?: unknown }).will;
      // MQTT 5: aedes keeps the client and answers a QoS>0 publish with PUBACK/PUBREC 0x87 (the error message is
      // the reason string); MQTT 3.1.1 has no such code, so aedes closes the connection.
      const keepsClient = client.version === 5 && !isWill;
      const outcome = keepsClient
        ? `outside the grant: ${packet.qos > 0 ? `PUB${packet.qos === 1 ? 'ACK' : 'REC'} 0x87` : 'dropped (QoS 0)'}`
        : 'outside the grant: disconnecting';
      context.audit({
        event: 'publish-denied',
        reason: 'PUBLISH_DENIED',
        ...auditBase(session.info, session.clientId),
        topic: packet.topic,
        detail: packet.topic.startsWith('$')
          ? "'$' topics belong to the broker"
          : isWill
            ? 'last will outside the grant: not published'
            : outcome,
      });
      if (!isWill && !keepsClient) {
        session.cause ??= 'PUBLISH_DENIED';
        session.detail ??= packet.topic;
      }
      callback(
        publishDenied(`PUBLISH_DENIED: "${packet.topic}" is outside the grant of "${session.info.cn}"`),
      );
    },

    authorizeSubscribe(client, subscription, callback) {
      const session = sessions.get(client);
      if (session?.grant.canSubscribe(subscription.topic)) return callback(null, subscription);
      if (session) {
        context.audit({
          event: 'subscribe-denied',
          reason: 'SUBSCRIBE_DENIED',
          ...auditBase(session.info, session.clientId),
          topic: subscription.topic,
          detail: 'filter reaches beyond the grant: SUBACK 0x80',
        });
      }
      callback(null, null); // SUBACK 0x80 for this filter; the client stays
    },

    authorizeForward(client, packet) {
      // Deliveries too: retained messages and sessions restored from persistence skip authorizeSubscribe.
      return sessions.get(client)?.grant.canReceive(packet.topic) ? packet : null;
    },
  };
}
