/**
 * The CONNACK first [MQTT-3.2.0-1]: "The first packet sent from the Server to the Client MUST be a CONNACK".
 *
 * aedes 2.0.0-beta.1 (and its upstream main) restores a resumed session's subscriptions before it answers the
 * CONNECT (lib/handlers/connect.js: fetchSubs, restoreSubs, then storeWill, registerClient, doConnack), and its
 * write() sends to a client that is still `connecting`. A message published to one of those subscriptions in that
 * window — on Redis, the round trips of the will's delete — is written BEFORE the CONNACK.
 * MQTT.js 5 then deadlocks: it answers the QoS 1 PUBLISH with a PUBACK that, not yet connected, it queues until
 * it is connected, and it reads no further packet until that PUBACK's callback — so the CONNACK behind it is never
 * read and the client reports "connack timeout" (test/integration/broker-connack-first.test.ts). Paho's Go client
 * drops the connection on a PUBLISH before the CONNACK (aedes issue #80, the same fault with retained messages).
 *
 * Here a session that may resume (Clean Session / Clean Start 0) has its deliveries held from its CONNECT until
 * its CONNACK is on the wire, then let through in the order they came. The emitter is answered at once (it must not
 * wait on one client's handshake), like mqtt5-outbound.ts' Receive Maximum window, which this wraps.
 *
 * Once, not twice: aedes queues a QoS > 0 message for every persistent subscription it matches BEFORE it emits it
 * (aedes.js publishFuncsQoS: enqueueOffline, then emitPacket), so a held QoS > 0 message is in the session's queue
 * too, and aedes replays that queue right after the CONNACK (connect.js emptyQueue). Sent both ways it came twice,
 * the two copies often with different packet ids (each path gives it a new one and stores it; the last store wins):
 * MQTT.js then hands it to the application twice, and for QoS 2 the PUBREC of the copy whose id was overwritten
 * is "no such packet" to aedes, which drops the connection (test/unit/broker-connack-first.test.ts). So a held
 * message delivered through a QoS > 0 subscription at QoS > 0 waits for the replay: when the replay takes it up
 * (its outgoingUpdate of that message, for a session whose replay sends rather than drops) it is the replay's;
 * whatever the replay did not take up (not queued after all, or past the Redis persistence's maxSessionDelivery)
 * is delivered when aedes has finished the CONNECT ('clientReady'), so nothing is lost. QoS 0 copies (QoS 0
 * subscriptions, or a QoS 0 publish) are never replayed in memory and are let through at the CONNACK, as before.
 *
 * A session that ends before its CONNACK drops what was held: a QoS > 0 message for a persistent session is in its
 * queue already and is replayed at the next resume.
 */
import type { Aedes, Client } from 'aedes';

interface DeliveredPacket {
  payload?: Buffer | string;
  qos?: number;
  /** Which broker numbered the message, and its number there: the key of its entry in the sessions' queues. */
  brokerId?: string | null;
  brokerCounter?: number | string;
}
type Deliver = (packet: DeliveredPacket, callback: () => void) => void;

/** The fields of aedes' client this relies on; its type declarations do not list them. */
type AedesClient = Client & {
  deliverQoS: Deliver;
  deliver0: Deliver;
  /** false: the session persists, so its queue is replayed (session-resume.ts keeps it so during a v5 resume). */
  clean: boolean;
  /** true: a Clean Start, whose replay drops the old queue. */
  _cleanStart?: boolean;
};

interface Persistence {
  outgoingUpdate(client: Client, packet: DeliveredPacket): Promise<unknown>;
}

const queueKey = (packet: DeliveredPacket) => `${packet.brokerId}:${packet.brokerCounter}`;

interface Held {
  deliver: Deliver;
  packet: DeliveredPacket;
  /** Held from aedes' deliverQoS, i.e. for a subscription of QoS > 0 (deliver0 serves those of QoS 0). */
  forQoSSubscription: boolean;
}

export interface ConnackFirst {
  /** Call in preConnect, before aedes restores the subscriptions (they capture the delivery functions). */
  hold(client: Client, connect: { clean?: boolean }): void;
}

export function connackFirst(
  broker: Aedes,
  /** Payload bytes a client may have held before it is cut as a slow consumer (limits.maxOutboundBuffer). */
  maxHeldBytes: number,
  onOverflow: (client: Client, heldBytes: number) => void,
): ConnackFirst {
  const waiting = new WeakMap<Client, Held[]>();
  /** Per client, from its CONNACK to the end of its CONNECT: held messages its queue replay should send, by key. */
  const awaitingReplay = new WeakMap<Client, Map<string, Held>>();
  /** Whether aedes' queue replay for this client would send (not drop) what it takes up (connect.js emptyQueueFilter). */
  const replaySends = (client: Client) => {
    const c = client as AedesClient;
    return c.clean === false && c._cleanStart !== true;
  };

  broker.on('connackSent', (_packet, client) => {
    const held = waiting.get(client);
    if (!held) return;
    waiting.delete(client); // from now on the wrappers deliver at once
    const queued = new Map<string, Held>();
    // emptied: the wrappers (in the session's subscriptions) keep the array as long as the connection lives
    for (const entry of held.splice(0)) {
      const { deliver, packet } = entry;
      // QoS > 0 on a QoS > 0 subscription: queued (a retained message sent at SUBSCRIBE has no brokerId, and no
      // SUBSCRIBE of this connection is handled before its CONNACK anyway)
      const inQueue = entry.forQoSSubscription && (packet.qos ?? 0) > 0 && Boolean(packet.brokerId);
      if (inQueue && replaySends(client)) queued.set(queueKey(packet), entry);
      else deliver(packet, () => {});
    }
    if (queued.size > 0) awaitingReplay.set(client, queued);
  });
  // The replay stores every message it takes up under the id it gives it, before it writes it.
  const persistence = (broker as unknown as { persistence: Persistence }).persistence;
  const outgoingUpdate = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet) => {
    const queued = awaitingReplay.get(client);
    if (queued && replaySends(client)) queued.delete(queueKey(packet));
    return outgoingUpdate(client, packet);
  };
  broker.on('clientReady', (client) => {
    const queued = awaitingReplay.get(client);
    if (!queued) return;
    awaitingReplay.delete(client);
    for (const { deliver, packet } of queued.values()) deliver(packet, () => {}); // the replay did not send these
  });
  broker.on('clientDisconnect', (client) => {
    waiting.delete(client);
    awaitingReplay.delete(client); // still in the session's queue: the next resume replays them
  });

  return {
    hold(client, connect) {
      if (connect.clean !== false) return; // nothing is restored before a clean session's CONNACK
      const c = client as AedesClient;
      const held: Held[] = [];
      let heldBytes = 0;
      waiting.set(client, held);
      const wrap = (deliver: Deliver, forQoSSubscription: boolean): Deliver =>
        function heldUntilConnack(packet, callback) {
          if (waiting.get(client) !== held) return deliver(packet, callback);
          held.push({ deliver, packet, forQoSSubscription });
          heldBytes += packet.payload?.length ?? 0;
          callback(); // the emitter moves on: this client's backlog is its own
          if (heldBytes > maxHeldBytes) onOverflow(client, heldBytes);
        };
      c.deliverQoS = wrap(c.deliverQoS, true);
      c.deliver0 = wrap(c.deliver0, false);
    },
  };
}
