/**
 * Outbound QoS 2 to a persistent session, worked around in aedes-persistence 10.3.1 (the in-memory store; 11.0.0,
 * the newest, has the same code).
 *
 * At a PUBREC aedes replaces the session's queued PUBLISH with a PUBREL of the same packet id
 * (lib/handlers/pubrec.js: persistence.outgoingUpdate, then it writes that PUBREL). The memory store finds the entry
 * to update by `brokerId`/`brokerCounter` when they are equal to the packet's, else by packet id — and a PUBREL
 * carries neither, nor does the PUBREL it stored before: `undefined === undefined` twice, so the second PUBREL
 * "matches" the first stored one, rewrites ITS packet id and returns. The second message's PUBLISH stays queued, the
 * first message's PUBREL is gone from the store, and because the store kept aedes' own object, the first PUBREL
 * not yet written goes out with the second's id. A resuming MQTT.js subscriber with 20 queued QoS 2 messages got
 * PUBREL 2 twice and never PUBREL 1: 19 of 20 handed to the application, the first one never (plain aedes; whenever
 * two PUBRECs are answered before the first PUBCOMP, live too).
 *
 * The fix: the store gets its own copy of each PUBREL, marked with a broker id no broker has and its packet id as
 * the counter. A new PUBREL then matches a stored PUBREL only of its own packet id (a repeated PUBREC), and
 * otherwise replaces the PUBLISH of its packet id as meant; the replay of a stored PUBREL at the next resume
 * carries the mark (aedes-packet keeps brokerId/brokerCounter) and finds its own entry again.
 *
 * Only for the in-memory store: aedes-persistence-redis finds a PUBREL's message through its packet id already
 * (augmentWithBrokerData) and must not be handed a broker id of ours.
 */
import type { Aedes, Client } from 'aedes';

interface OutgoingPacket {
  cmd?: string;
  messageId?: number;
  brokerId?: string | null;
  brokerCounter?: number | string;
}

interface OutgoingStore {
  outgoingUpdate(client: Client, packet: OutgoingPacket): Promise<unknown>;
}

/** A broker id no broker has (aedes' are hyperid UUIDs). */
export const PUBREL_MARK = 'certfleet-pubrel';

export function keepPubrelsApart(broker: Aedes): void {
  const store = (broker as unknown as { persistence: OutgoingStore }).persistence;
  const outgoingUpdate = store.outgoingUpdate.bind(store);
  store.outgoingUpdate = (client, packet) => {
    if (packet.cmd !== 'pubrel') return outgoingUpdate(client, packet);
    return outgoingUpdate(client, { ...packet, brokerId: PUBREL_MARK, brokerCounter: packet.messageId });
  };
}
