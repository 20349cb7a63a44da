/**
 * The limits an MQTT 5 client sets in its CONNECT on what the broker sends it. aedes 2.0.0-beta.1 stores both and
 * enforces neither (lib/handlers/connect.js says so); here they are enforced around its delivery functions:
 * - Maximum Packet Size (§3.1.2.11.4): a PUBLISH larger than the client accepts is not sent [MQTT-3.1.2-24]; it
 *   is discarded as if it had been delivered [MQTT-3.1.2-25] (`fitsClient`, from authorizeForward, so that aedes
 *   releases it from a persistent session's queue as it does for any message not forwarded);
 * - Receive Maximum (§3.1.2.11.3): no more QoS 1 and QoS 2 PUBLISHes awaiting PUBACK/PUBCOMP than the client
 *   announced [MQTT-3.3.4-9]; the others wait, in order, for a slot (`windowDeliveries`).
 * One it leaves out: a server MAY send topic aliases to a client that allows them (§3.3.2.3.4): `withTopicAlias`.
 * And one thing it gets half right: a message matching several of a client's subscriptions is sent once (aedes
 * drops the copies), so it must carry the Subscription Identifiers of all of them [MQTT-3.3.4-4]; aedes puts only
 * the first one's (`withSubscriptionIdentifiers`).
 */
import type { Client, PublishPacket } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { matchTopic } from './topic-filter.ts';

/** The fields of aedes' client used here; its type declarations do not list them. */
type AedesClient = Client & {
  version: number;
  maximumPacketSize?: number;
  subscriptions: Record<string, { qos: number; si?: number } | undefined>;
  duplicates: Record<string, number | undefined>;
  deliverQoS: (packet: OutgoingPacket, callback: () => void) => void;
  _parser: { on(event: 'packet', listener: (packet: { cmd: string; reasonCode?: number }) => void): void };
};
type OutgoingPacket = PublishPacket & {
  nl?: boolean;
  clientId?: string;
  brokerId?: string | null;
  brokerCounter?: number;
};

/** Bytes a variable byte integer takes (MQTT 5 §1.5.5). */
const varIntLength = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

/** The size on the wire of `packet` sent to a v5 client (a packet id counted whenever its QoS is above 0). */
export function publishWireSize(packet: PublishPacket): number {
  const payload =
    typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
  if (!hasProperties(packet)) {
    // the common case, counted rather than encoded (this runs per delivery): topic length + topic, packet id,
    // a property length of 0, payload (§3.3.2)
    const remaining = 2 + Buffer.byteLength(packet.topic) + (packet.qos > 0 ? 2 : 0) + 1 + payload;
    return 1 + varIntLength(remaining) + remaining;
  }
  const head = mqttPacket.generate(
    {
      cmd: 'publish',
      topic: packet.topic,
      payload: Buffer.alloc(0),
      qos: packet.qos,
      ...(packet.qos > 0 && { messageId: 1 }),
      retain: packet.retain,
      dup: false,
      ...(packet.properties && { properties: packet.properties }),
    },
    { protocolVersion: 5 },
  );
  const remaining = head.length - 1 - varIntLength(head.length - 2) + payload;
  return 1 + varIntLength(remaining) + remaining;
}

const hasProperties = (packet: PublishPacket): boolean => {
  for (const name in packet.properties) {
    if ((packet.properties as Record<string, unknown>)[name] !== undefined) return true;
  }
  return false;
};

/** May `packet` be sent to `client`: not larger than the Maximum Packet Size the client announced. */
export function fitsClient(client: Client, packet: PublishPacket): boolean {
  const max = (client as AedesClient).maximumPacketSize;
  if (!max || (client as AedesClient).version !== 5) return true;
  return publishWireSize(packet) <= max;
}

/**
 * `packet` with the Subscription Identifiers of every subscription of `client` it matches (a copy, if that changes
 * anything). Called once per client and message: aedes forwards one copy of a message per client.
 */
export function withSubscriptionIdentifiers<P extends PublishPacket>(client: Client, packet: P): P {
  const c = client as AedesClient;
  if (c.version !== 5) return packet;
  const ids: number[] = [];
  for (const filter in c.subscriptions) {
    const si = c.subscriptions[filter]?.si;
    if (si === undefined) continue;
    // a filter starting with a wildcard does not match a '$' topic [MQTT-4.7.2-1]
    if (packet.topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) continue;
    if (matchTopic(filter, packet.topic)) ids.push(si);
  }
  const current = (packet.properties as { subscriptionIdentifier?: unknown } | undefined)
    ?.subscriptionIdentifier;
  if (ids.length === 0 || (ids.length === 1 && current === ids[0])) return packet; // what aedes put is right
  return {
    ...packet,
    properties: { ...packet.properties, subscriptionIdentifier: ids.length === 1 ? ids[0] : ids },
  };
}

/** The topic aliases the broker gave a client, up to the Topic Alias Maximum of its CONNECT. */
const aliasTables = new WeakMap<Client, { max: number; byTopic: Map<string, number> }>();

/** At CONNECT: may the broker send this client topic aliases (it announced a Topic Alias Maximum)? */
export function allowTopicAliases(
  client: Client,
  connect: { protocolVersion?: number; properties?: { topicAliasMaximum?: number } },
): void {
  const max = connect.properties?.topicAliasMaximum;
  if (connect.protocolVersion !== 5 || !max) return;
  aliasTables.set(client, { max, byTopic: new Map() });
}

/**
 * `packet` as sent with a topic alias: the first delivery on a topic carries the topic and a new alias, later ones
 * an empty topic and the alias (§3.3.2.3.4); past the client's maximum,
 * topics go without one. Called once per delivery actually written, in the order they are written (aedes writes
 * each from its own setImmediate, queued in the order they were authorized). Only for a session that ends with the
 * connection: aedes keeps what it sends to a persistent session for redelivery, and an alias means nothing on the
 * next connection [MQTT-3.3.2-7].
 */
export function withTopicAlias<P extends PublishPacket>(client: Client, packet: P): P {
  const table = aliasTables.get(client);
  const c = client as AedesClient & { clean?: boolean };
  if (!table || !c.clean) return packet;
  const known = table.byTopic.get(packet.topic);
  if (known !== undefined) {
    // aedes looks up the subscription by topic to lower the QoS: without a topic, that is done here
    const granted = c.subscriptions[packet.topic]?.qos;
    const qos = granted !== undefined && granted < packet.qos ? granted : packet.qos;
    return { ...packet, qos, topic: '', properties: { ...packet.properties, topicAlias: known } };
  }
  if (table.byTopic.size >= table.max) return packet;
  const alias = table.byTopic.size + 1;
  table.byTopic.set(packet.topic, alias);
  return { ...packet, properties: { ...packet.properties, topicAlias: alias } };
}

export interface WindowOptions {
  /** aedes' authorizeForward: whether a delivery would be sent at all. */
  forward(client: Client, packet: PublishPacket): unknown;
  /** Bytes of payload the held messages may reach before the client is cut as a slow consumer. */
  maxHeldBytes: number;
  onOverflow(client: Client, heldBytes: number): void;
}

/**
 * Holds a v5 client's QoS 1/2 deliveries beyond its Receive Maximum until a PUBACK, a PUBCOMP or a failed PUBREC
 * (reason code ≥ 0x80) frees a slot. Called at CONNECT, before aedes restores the session's subscriptions (they
 * capture the delivery function). Only clients that announce a Receive Maximum below the protocol's 65,535 are
 * watched. Not covered: the messages aedes replays from a resumed session's queue at CONNECT, written directly.
 */
export function windowDeliveries(
  client: Client,
  connect: { protocolVersion?: number; properties?: { receiveMaximum?: number } },
  options: WindowOptions,
): void {
  const max = connect.properties?.receiveMaximum;
  if (connect.protocolVersion !== 5 || max === undefined || max < 1 || max >= 65_535) return;
  const c = client as AedesClient;
  const deliver = c.deliverQoS;
  let inflight = 0;
  const held: OutgoingPacket[] = [];
  let heldBytes = 0;

  /** Whether aedes will write this delivery as a QoS 1/2 PUBLISH (its deliverQoS checks, read-only). */
  const sentWithQos = (packet: OutgoingPacket): boolean => {
    if (packet.qos === 0) return false;
    if (packet.nl && packet.clientId === c.id) return false; // No Local
    if (packet.brokerId && (c.duplicates[packet.brokerId] ?? 0) >= (packet.brokerCounter ?? 0)) return false;
    if (c.subscriptions[packet.topic]?.qos === 0) return false; // downgraded
    return options.forward(client, packet) != null;
  };
  const send = (packet: OutgoingPacket, callback: () => void) => {
    if (sentWithQos(packet)) inflight++;
    deliver(packet, callback);
  };

  // aedes drops a delivery whose broker counter it has seen (the same message through overlapping subscriptions),
  // and any delivery, QoS 0 ones too, raises what it has seen: a held message is checked and marked seen when held,
  // and let through that check when released.
  const seen = (packet: OutgoingPacket) =>
    !!packet.brokerId && (c.duplicates[packet.brokerId] ?? 0) >= (packet.brokerCounter ?? 0);
  const release = (packet: OutgoingPacket) => {
    const id = packet.brokerId || undefined; // retained messages carry none
    const mark = id === undefined ? undefined : c.duplicates[id];
    if (id !== undefined) c.duplicates[id] = (packet.brokerCounter ?? 0) - 1;
    send(packet, () => {});
    if (id !== undefined) c.duplicates[id] = Math.max(mark ?? 0, c.duplicates[id] ?? 0);
  };

  c.deliverQoS = (packet, callback) => {
    if (packet.qos === 0 || (inflight < max && held.length === 0)) return send(packet, callback);
    if (seen(packet)) return callback();
    if (packet.brokerId) c.duplicates[packet.brokerId] = packet.brokerCounter ?? 0;
    held.push(packet);
    heldBytes += packet.payload.length;
    callback(); // the emitter moves on: this client's backlog is its own
    if (heldBytes > options.maxHeldBytes) options.onOverflow(client, heldBytes);
  };
  c._parser.on('packet', (packet) => {
    const frees =
      packet.cmd === 'puback' ||
      packet.cmd === 'pubcomp' ||
      (packet.cmd === 'pubrec' && (packet.reasonCode ?? 0) >= 0x80);
    if (!frees) return;
    inflight = Math.max(0, inflight - 1);
    while (inflight < max && held.length > 0) {
      const next = held.shift()!;
      heldBytes -= next.payload.length;
      release(next);
    }
  });
}
