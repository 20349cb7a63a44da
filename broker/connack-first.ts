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
 * its CONNACK is on the wire, then let through in the order they came, exactly as if they had arrived just after
 * the CONNACK (so, as then, one may also come again in aedes' replay of the session's queue: QoS 1 is at least
 * once). The emitter is answered at once (it must not wait on one client's handshake), like
 * mqtt5-outbound.ts' Receive Maximum window, which this wraps. A session that ends before its CONNACK drops what
 * was held: a QoS > 0 message for a persistent session is in its queue already (aedes queues before it emits)
 * and is replayed at the next resume.
 */
import type { Aedes, Client } from 'aedes';

type Deliver = (packet: { payload?: Buffer | string }, callback: () => void) => void;

/** The fields of aedes' client this relies on; its type declarations do not list them. */
type AedesClient = Client & { deliverQoS: Deliver; deliver0: Deliver };

interface Held {
  deliver: Deliver;
  packet: Parameters<Deliver>[0];
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
  broker.on('connackSent', (_packet, client) => {
    const held = waiting.get(client);
    if (!held) return;
    waiting.delete(client); // from now on the wrappers deliver at once
    // emptied: the wrappers (in the session's subscriptions) keep the array as long as the connection lives
    for (const { deliver, packet } of held.splice(0)) deliver(packet, () => {});
  });
  broker.on('clientDisconnect', (client) => waiting.delete(client));

  return {
    hold(client, connect) {
      if (connect.clean !== false) return; // nothing is restored before a clean session's CONNACK
      const c = client as AedesClient;
      const held: Held[] = [];
      let heldBytes = 0;
      waiting.set(client, held);
      const wrap = (deliver: Deliver): Deliver =>
        function heldUntilConnack(packet, callback) {
          if (waiting.get(client) !== held) return deliver(packet, callback);
          held.push({ deliver, packet });
          heldBytes += packet.payload?.length ?? 0;
          callback(); // the emitter moves on: this client's backlog is its own
          if (heldBytes > maxHeldBytes) onOverflow(client, heldBytes);
        };
      c.deliverQoS = wrap(c.deliverQoS);
      c.deliver0 = wrap(c.deliver0);
    },
  };
}
