/**
 * Per-session bounds enforced in the aedes hooks, around the policy checks:
 * - client id length at CONNECT (aedes checks it for MQTT 3.1 only);
 * - subscriptions per client (one device made 173,600 in 8 s: RSS 198 → 469 MB, kept by its persistent session);
 * - retained messages: how many topics hold one, and how large one may be.
 * A client over a bound is disconnected with LIMIT_EXCEEDED and the reason in its audit record: real devices never
 * come near these bounds, so the one that does is misbehaving, and one record says so (not one per attempt).
 */
import type { AuthenticateError, Client, PublishPacket } from 'aedes';
import type { Reason } from '../core/reasons.ts';
import type { AuditRecord } from './audit-record.ts';
import { auditBase, type ConnectionInfo, type Session } from './authorization.ts';
import type { BrokerLimits } from './limits.ts';

type Hooks = {
  preConnect: NonNullable<import('aedes').AedesOptions['preConnect']>;
  authorizePublish: NonNullable<import('aedes').AedesOptions['authorizePublish']>;
  authorizeSubscribe: NonNullable<import('aedes').AedesOptions['authorizeSubscribe']>;
};

export interface SessionLimitContext {
  limits: BrokerLimits;
  sessions: ReadonlyMap<Client, Session>;
  infoOf(client: Client): ConnectionInfo | undefined;
  audit(record: Omit<AuditRecord, 'ts'>): void;
}

/** The part of aedes' persistence API that forgets an inbound QoS 2 message at its PUBREL. */
interface InboundStore {
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<unknown>;
}

/** What watchInflight needs of aedes: its persistence and its client events. */
export interface InflightBroker {
  persistence: unknown;
  on(event: 'client' | 'clientDisconnect', listener: (client: Client) => void): unknown;
}

/** MQTT 5 DISCONNECT reason code: the client sent more unacknowledged QoS 1/2 messages than Receive Maximum. */
export const DISCONNECT_RECEIVE_MAXIMUM_EXCEEDED = 0x93;

/** The Receive Maximum the broker announces in a v5 CONNACK: its inbound window, as a two-byte integer. */
export function announcedReceiveMaximum(limits: BrokerLimits): number {
  return Math.min(Math.max(limits.maxInflightInbound, 1), 65_535);
}

export interface SessionLimits extends Hooks {
  retainedCount(): number;
  /**
   * Releases an inbound QoS 2 message from its session's window at its PUBREL, through the persistence call that
   * forgets it (aedes 2.0.0-beta.1 announces a Receive Maximum but bounds nothing); and forgets a session's
   * unreleased messages when the session ends or a Clean Start discards it. aedes keeps them in its persistence
   * under the client id: a client that reconnected with Clean Start and reused a packet id had its new QoS 2
   * message taken for a retransmission of the old one — acknowledged and never delivered ([MQTT-3.1.2-4]: Clean
   * Start discards the existing session; seen with Paho's test_flow_control2 then test_retained_message).
   */
  watchInflight(broker: InflightBroker): void;
}

export function limitSessions(inner: Hooks, context: SessionLimitContext): SessionLimits {
  const { limits } = context;
  /**
   * Each session's inbound window, by client id: the packet ids of its QoS 2 messages received and not yet released
   * by PUBREL. Counted when the PUBLISH is read (authorizePublish), not when aedes stores it: a flood read in one
   * chunk is authorized message by message before any store completes. A retransmission reuses its id, so counts
   * once. QoS 1 needs no count: aedes writes the PUBACK as it reads the PUBLISH (authorizePublish answers at once).
   */
  const inflight = new Map<string, Set<number>>();
  const windowOf = (client: Client) => {
    const ids = inflight.get(client.id) ?? new Set<number>();
    inflight.set(client.id, ids);
    return ids;
  };
  /** Clients being disconnected for exceeding the window: nothing more of theirs is answered. */
  const cut = new WeakSet<Client>();
  /** Topics holding a retained message (an empty retained payload clears one). */
  const retained = new Set<string>();

  const overLimit = (client: Client, detail: string): Error => {
    const session = context.sessions.get(client);
    if (session) {
      session.cause ??= 'LIMIT_EXCEEDED';
      session.detail ??= detail;
    }
    return new Error(detail);
  };

  /**
   * One more QoS 2 message than the window holds. MQTT 5: DISCONNECT 0x93 "Receive Maximum exceeded", the limit
   * that was announced in the CONNACK (§3.3.4); the publish is never answered. MQTT 3.1.1 announces nothing and
   * has no such code: the connection is closed. Either way the session's end record says why (LIMIT_EXCEEDED).
   */
  const exceeded = (client: Client, callback: (error?: Error | null) => void) => {
    const detail = `more than ${limits.maxInflightInbound} QoS 2 messages awaiting PUBREL (Receive Maximum ${announcedReceiveMaximum(limits)})`;
    const error = overLimit(client, detail);
    if (client.version !== 5) return callback(error);
    cut.add(client);
    client.disconnect({
      reasonCode: DISCONNECT_RECEIVE_MAXIMUM_EXCEEDED,
      properties: { reasonString: `LIMIT_EXCEEDED: ${detail}` },
    });
  };

  const refuse = (client: Client, clientId: string | undefined, reason: Reason, detail: string) => {
    const info = context.infoOf(client);
    if (!info || info.settled) return;
    info.settled = true;
    context.audit({
      event: 'connect-refused',
      reason,
      ...auditBase(info, clientId),
      cert: info.cert,
      detail,
    });
  };

  const retainedProblem = (packet: PublishPacket): string | null => {
    if (!packet.retain) return null;
    const size = packet.payload?.length ?? 0;
    if (size > limits.maxRetainedSize) {
      return `retained message of ${size} bytes on "${packet.topic}" exceeds the limit of ${limits.maxRetainedSize}`;
    }
    if (size > 0 && !retained.has(packet.topic) && retained.size >= limits.maxRetainedMessages) {
      return `the retained store is full (${limits.maxRetainedMessages} topics): "${packet.topic}" not retained`;
    }
    return null;
  };

  return {
    retainedCount: () => retained.size,

    watchInflight(broker) {
      const store = broker.persistence as Partial<InboundStore>;
      const { incomingDelPacket } = store;
      if (typeof incomingDelPacket !== 'function') return;
      store.incomingDelPacket = (client, packet) => {
        if (packet.messageId !== undefined) inflight.get(client.id)?.delete(packet.messageId);
        return incomingDelPacket.call(store, client, packet);
      };
      const discard = (id: string) => {
        const ids = inflight.get(id);
        inflight.delete(id);
        for (const messageId of ids ?? []) {
          incomingDelPacket.call(store, { id } as Client, { messageId }).catch(() => {});
        }
      };
      // 'client': registered (after any takeover), before its CONNACK and before any packet of its own is handled.
      broker.on('client', (client) => {
        if ((client as Client & { _cleanStart?: boolean })._cleanStart) discard(client.id);
      });
      // A session that does not outlive its connection (clean) ends here.
      broker.on('clientDisconnect', (client) => {
        if ((client as Client & { clean?: boolean }).clean) discard(client.id);
      });
    },

    preConnect(client, packet, callback) {
      const length = packet.clientId?.length ?? 0;
      if (length > limits.maxClientIdLength) {
        const detail = `client id of ${length} characters exceeds the limit of ${limits.maxClientIdLength}`;
        refuse(client, packet.clientId, 'LIMIT_EXCEEDED', detail);
        const error = Object.assign(new Error(detail), { returnCode: 2 }) as AuthenticateError;
        return callback(error, false);
      }
      const willTopic = packet.will?.topic;
      if (willTopic !== undefined && !isTopicName(willTopic)) {
        // [MQTT-3.1.2-14]/[MQTT-4.7.3-1]: the will topic is a topic NAME; accepted, it would later be delivered
        // under that literal name. A malformed CONNECT: closed without CONNACK [MQTT-3.1.4-1].
        refuse(
          client,
          packet.clientId,
          'PROTOCOL_ERROR',
          `will topic "${willTopic}" holds a wildcard or is empty`,
        );
        return callback(new Error('invalid will topic'), false);
      }
      inner.preConnect(client, packet, callback);
    },

    authorizeSubscribe(client, subscription, callback) {
      const current = Object.keys((client as Client & { subscriptions: object }).subscriptions ?? {}).length;
      const already = Object.hasOwn(
        (client as Client & { subscriptions: object }).subscriptions ?? {},
        subscription.topic,
      );
      if (!already && current >= limits.maxSubscriptionsPerClient) {
        return callback(
          overLimit(client, `more than ${limits.maxSubscriptionsPerClient} subscriptions`),
          null,
        );
      }
      inner.authorizeSubscribe(client, subscription, callback);
    },

    authorizePublish(client, packet, callback) {
      if (client && packet === (client as Client & { will?: unknown }).will) {
        const cause = context.sessions.get(client)?.cause;
        // A session cut because its certificate is no longer valid has no last word.
        if (cause === 'REVOKED' || cause === 'EXPIRED') return callback(new Error(`no will: ${cause}`));
      }
      stripWillDelay(packet);
      if (client && cut.has(client)) return; // disconnecting: no acknowledgement may follow the DISCONNECT
      const window = client && packet.qos === 2 && packet.messageId !== undefined ? windowOf(client) : null;
      if (client && window && !window.has(packet.messageId!)) {
        if (window.size >= limits.maxInflightInbound) return exceeded(client, callback);
        window.add(packet.messageId!);
      }
      inner.authorizePublish(client, packet, (error) => {
        if (error) window?.delete(packet.messageId!); // refused (PUBREC 0x87 or a close): no PUBREL follows
        if (error) return callback(error);
        const problem = retainedProblem(packet);
        if (problem) {
          if (client) {
            const session = context.sessions.get(client);
            if (session) {
              context.audit({
                event: 'publish-denied',
                reason: 'LIMIT_EXCEEDED',
                ...auditBase(session.info, session.clientId),
                topic: packet.topic,
                detail: problem,
              });
            }
            return callback(overLimit(client, problem));
          }
          return callback(new Error(problem));
        }
        if (packet.retain) {
          if ((packet.payload?.length ?? 0) === 0) retained.delete(packet.topic);
          else retained.add(packet.topic);
        }
        callback(null);
      });
    },
  };
}

/**
 * A last will is published with the properties of its CONNECT, and Will Delay Interval is one that only a will may
 * carry (§2.2.2.2: a property only in the packets its definition names): on the PUBLISH that delivers it, it makes the packet malformed (Paho's client drops the
 * connection over it). aedes 2.0.0-beta.1 forwards it as is; it has read the delay by the time the will is
 * published (when it chose between publishing now and later), so it goes here.
 */
function stripWillDelay(packet: PublishPacket): void {
  const properties = packet.properties as
    | (PublishPacket['properties'] & { willDelayInterval?: number })
    | undefined;
  if (properties?.willDelayInterval === undefined) return;
  const { willDelayInterval: _delay, ...rest } = properties;
  packet.properties = rest;
}

/** A topic name a message can be published to: not empty, no wildcard, no NUL [MQTT-4.7.3-1/2]. */
function isTopicName(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic);
}
