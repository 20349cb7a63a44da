/**
 * The aedes hooks: CONNECT → identity and grant (authenticate), then every publish, subscribe and delivery
 * checked against the grant compiled for that connection. Every refusal is audited here, at the decision.
 */
import type { AedesOptions, AuthenticateError, Client, ConnectPacket, PublishPacket } from 'aedes';
import type { Reason } from '../core/reasons.ts';
import type { AuditRecord } from './audit-record.ts';
import type { BrokerLimits } from './limits.ts';
import { refusalConnack } from './refused-connect.ts';
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
  /**
   * Devices sharing one claim certificate connect as `<cn>:<serial>` so they do not take each other's session over
   * (broker/enrollment): may this CN use this client id that differs from it?
   */
  clientIdAllowed?(cn: string, clientId: string): boolean;
  /** A revoked certificate this one replaced by rotation (broker/enrollment), or null. */
  revokedPredecessor?(cert: { issuer: string; serial: string }): string | null;
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

/** MQTT 5 DISCONNECT reason codes the broker ends sessions with (MQTT 5 §3.14.2.1). */
export const DISCONNECT_NOT_AUTHORIZED = 0x87;
export const DISCONNECT_ADMINISTRATIVE_ACTION = 0x98;

/**
 * Ends a session the broker decided to end (session.cause set): an MQTT 5 client gets a DISCONNECT with the
 * reason code and a Reason String saying why; MQTT 3.1.1 has no server DISCONNECT, so its connection just closes.
 */
export function endSession(session: Session, reasonCode: number, reasonString: string): void {
  session.client.disconnect({ reasonCode, properties: { reasonString } }, () => {});
}

export interface SessionRegistry {
  readonly sessions: ReadonlyMap<Client, Session>;
  /** The session ended (or never started): forget it. */
  forget(session: Session): void;
}

export function createAuthorization(context: AuthorizationContext): Hooks & SessionRegistry {
  const sessions = new Map<Client, Session>();
  const sessionsById = new Map<string, Session>();
  /** Grants decided in preConnect, registered as sessions once aedes accepted the CONNECT (authenticate). */
  const grants = new WeakMap<Client, { grant: Grant; serverKeepAlive?: number }>();
  /**
   * Sessions that ended, kept (weakly) for one last publish: an MQTT 5 will with a Will Delay Interval is published
   * by aedes after the session ended, and is judged like any other will — unless the certificate was cut or
   * revoked meanwhile.
   */
  const ended = new WeakMap<Client, Session>();
  const delayedWillSession = (client: Client): Session | undefined => {
    const session = client.closed ? ended.get(client) : undefined;
    if (!session) return undefined;
    const { issuer, serial } = session.info.cert;
    if (context.revoked().has(revocationKey(issuer, serial))) session.cause = 'REVOKED';
    return session;
  };

  /** Why this CONNECT is refused, or a grant. */
  function decide(
    packet: ConnectPacket,
    info: ConnectionInfo,
  ): { reason: Reason; detail: string } | { grant: Grant; serverKeepAlive?: number } {
    if (context.revoked().has(revocationKey(info.cert.issuer, info.cert.serial))) {
      return { reason: 'REVOKED', detail: "issuer and serial are in the issuer's CRL" };
    }
    const predecessor = context.revokedPredecessor?.(info.cert);
    if (predecessor) {
      return { reason: 'REVOKED', detail: `it renewed certificate ${predecessor}, which is revoked` };
    }
    const v5 = packet.protocolVersion === 5;
    const { keepaliveLimit } = context.limits;
    const keepalive = packet.keepalive ?? 0;
    // Keepalive 0 ("no keepalive") is the spec's own default use and is admitted [MQTT-3.1.2-23]. Above the
    // limit, MQTT 3.1.1 can only refuse; MQTT 5 lets the server impose its own with Server Keep Alive.
    const tooLong = keepaliveLimit > 0 && keepalive > keepaliveLimit;
    if (tooLong && !v5) {
      return { reason: 'LIMIT_EXCEEDED', detail: `keepalive ${keepalive}s (allowed 0–${keepaliveLimit}s)` };
    }
    const policy = context.policy();
    if (info.cn === null) return { reason: 'UNKNOWN_IDENTITY', detail: 'the certificate has no single CN' };
    const resolved = policy.resolve(info.cn);
    if ('refused' in resolved) return { reason: 'UNKNOWN_IDENTITY', detail: resolved.refused };
    // An empty client id asks the broker to assign one (MQTT 3.1.1 only with a clean session [MQTT-3.1.3-8],
    // which aedes enforces with CONNACK 2; MQTT 5 always [MQTT-3.2.2-16]): an assigned, random id can take over
    // no one's session, so it passes the client-id = CN rule.
    const clientId = packet.clientId ?? '';
    if (
      policy.requireClientIdMatchesCn &&
      clientId !== '' &&
      clientId !== info.cn &&
      !context.clientIdAllowed?.(info.cn, clientId)
    ) {
      return { reason: 'CLIENT_ID_MISMATCH', detail: `client id "${clientId}" ≠ CN "${info.cn}"` };
    }
    const will = packet.will;
    if (will && !resolved.canPublish(will.topic)) {
      return { reason: 'PUBLISH_DENIED', detail: `last will on "${will.topic}" is outside the grant` };
    }
    return tooLong ? { grant: resolved, serverKeepAlive: keepaliveLimit } : { grant: resolved };
  }

  return {
    sessions,
    forget(session) {
      sessions.delete(session.client);
      ended.set(session.client, session);
      if (sessionsById.get(session.clientId) === session) sessionsById.delete(session.clientId);
    },

    // The decision is taken here, before aedes answers anything, so that a refusal can carry its reason: aedes
    // has no way to put a Reason String on the CONNACK of a failed authenticate (refused-connect.ts writes it).
    preConnect(client, packet, callback) {
      const info = context.infoOf(client);
      if (!info) return callback(notAuthorized('connection did not pass the TLS gate'), false); // cannot happen
      const decision = decide(packet, info);
      if ('grant' in decision) {
        grants.set(client, decision);
        return callback(null, true);
      }
      info.settled = true;
      context.audit({
        event: 'connect-refused',
        ...auditBase(info, packet.clientId ?? ''),
        ...decision,
        cert: info.cert,
      });
      const connack = refusalConnack(packet.protocolVersion ?? 4, { ...decision, cert: info.cert });
      // aedes destroys the socket once told no: only after the CONNACK has left.
      client.conn.write(connack, () => {
        client.conn.end();
        callback(notAuthorized(decision.detail), false);
      });
    },

    authenticate(client, _username, _password, done) {
      // Username and password are ignored: the certificate is the credential, judged in preConnect.
      const info = context.infoOf(client);
      const decided = grants.get(client);
      if (!info || !decided) return done(notAuthorized('no decision for this connection'), false); // cannot happen
      if (decided.serverKeepAlive !== undefined) {
        // MQTT 5 Server Keep Alive [MQTT-3.2.2-21]: aedes (2.0.0-beta.1) times the session and fills the CONNACK
        // property from this field; it only sets it itself when its own keepaliveLimit (which would refuse
        // 3.1.1 keepalive 0 with a non-standard code) is configured. broker-policy.test.ts checks the CONNACK.
        (client as Client & { _serverKeepAlive?: number })._serverKeepAlive = decided.serverKeepAlive;
      }
      const clientId = client.id; // assigned by aedes when the CONNECT had none
      const previous = sessionsById.get(clientId);
      if (previous && previous.client !== client) {
        // aedes closes the older session with this client id [MQTT-3.1.4-2] (MQTT 5: DISCONNECT 0x8E): say why in
        // its disconnect record
        previous.cause ??= 'SESSION_TAKEN_OVER';
        previous.detail ??= `taken over by connection ${info.connection} with the same client id`;
      }
      const session: Session = { info, client, clientId, grant: decided.grant };
      sessions.set(client, session);
      sessionsById.set(clientId, session);
      done(null, true);
    },

    authorizePublish(client, packet, callback) {
      if (!client) return callback(null); // the broker's own messages (the audit feed)
      const session = sessions.get(client) ?? delayedWillSession(client);
      if (!session) return callback(new Error('no session'));
      if (session.cause === 'REVOKED' || (client.closed && session.cause === 'EXPIRED')) {
        return callback(new Error(`no will: ${session.cause}`)); // not even its last will
      }
      if (session.grant.canPublish(packet.topic)) return callback(null);
      // A closed client publishes nothing but its will (a delayed one after its session ended).
      const isWill = packet === (client as Client & { will?: unknown }).will || client.closed;
      if (packet.topic.startsWith('$') && !isWill) return refuseDollarTopic(session, packet, callback);
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
        detail: isWill ? 'last will outside the grant: not published' : outcome,
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
      // A client's '$' publish was acknowledged and must go nowhere (refuseDollarTopic); aedes stamps the
      // publishing client's id on the packet, the broker's own messages (the audit feed) have none.
      if (packet.topic.startsWith('$') && (packet as { clientId?: string }).clientId !== undefined)
        return null;
      // Deliveries too: retained messages and sessions restored from persistence skip authorizeSubscribe.
      return sessions.get(client)?.grant.canReceive(packet.topic) ? packet : null;
    },
  };

  /**
   * '$' topics belong to the broker [MQTT-4.7.2-1]: a client's publish there is never delivered. It is
   * acknowledged and dropped, for MQTT 3.1.1 (which has no refusal code) and MQTT 5 alike: the spec allows it, the
   * session goes on, and clients that cannot parse a PUBACK carrying a Reason String (Paho's conformance client)
   * are not broken by it. The audit records the drop.
   */
  function refuseDollarTopic(
    session: Session,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    context.audit({
      event: 'publish-denied',
      reason: 'PUBLISH_DENIED',
      ...auditBase(session.info, session.clientId),
      topic: packet.topic,
      detail: "'$' topics belong to the broker: acknowledged, not delivered",
    });
    packet.retain = false; // nor stored
    callback(null); // authorizeForward drops it on the way out
  }
}
