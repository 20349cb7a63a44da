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

/** The part of aedes' persistence API that stores inbound QoS 2 messages until their PUBREL. */
interface InboundStore {
  incomingStorePacket(client: Client, packet: unknown): Promise<unknown>;
  incomingDelPacket(client: Client, packet: unknown): Promise<unknown>;
}

export interface SessionLimits extends Hooks {
  retainedCount(): number;
  /**
   * Counts each client's inbound QoS 2 messages awaiting PUBREL through the persistence calls that store and
   * release them (aedes 2.0.0-beta.1 has no bound of its own on this window).
   */
  watchInflight(persistence: unknown): void;
}

export function limitSessions(inner: Hooks, context: SessionLimitContext): SessionLimits {
  const { limits } = context;
  const inflight = new WeakMap<Client, number>();
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

    watchInflight(persistence) {
      const store = persistence as Partial<InboundStore>;
      const { incomingStorePacket, incomingDelPacket } = store;
      if (typeof incomingStorePacket !== 'function' || typeof incomingDelPacket !== 'function') return;
      store.incomingStorePacket = (client, packet) => {
        inflight.set(client, (inflight.get(client) ?? 0) + 1);
        return incomingStorePacket.call(persistence, client, packet);
      };
      store.incomingDelPacket = (client, packet) => {
        inflight.set(client, Math.max(0, (inflight.get(client) ?? 0) - 1));
        return incomingDelPacket.call(persistence, client, packet);
      };
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
      if (client && packet.qos === 2 && (inflight.get(client) ?? 0) >= limits.maxInflightInbound) {
        const detail = `more than ${limits.maxInflightInbound} QoS 2 messages awaiting PUBREL`;
        return callback(overLimit(client, detail));
      }
      inner.authorizePublish(client, packet, (error) => {
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

/** A topic name a message can be published to: not empty, no wildcard, no NUL [MQTT-4.7.3-1/2]. */
function isTopicName(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic);
}
