/**
 * aedes-persistence-redis keeps every persistent (clean session 0, QoS > 0) subscription of the whole cluster in an
 * in-memory trie on each node; a node learns of another node's SUBSCRIBE only from an announcement on the bus
 * (`$SYS/sub/add`, Redis pub/sub). Pub/sub does not queue: a node that was away from Redis missed them, and the trie
 * is what a node asks when it queues a QoS 1 message for an offline session — so messages published through it
 * would be silently lost for those sessions (measured: 100 of 100, test/integration/broker-cluster-partition).
 *
 * When the node is back, it re-reads every persistent subscription stored in Redis and announces each session's
 * on the bus again — through the very path the persistence itself uses, so every node's trie (its own included)
 * adds what it missed. Adding is idempotent. (A subscription removed elsewhere meanwhile stays in the trie until
 * its session unsubscribes again: at worst a message queued that the session no longer wanted, never one lost.)
 */
import type { Redis } from 'ioredis';

/** aedes-persistence-redis' set of the client ids that have stored subscriptions. */
const CLIENTS_KEY = 'clients';
const ANNOUNCE_TOPIC = '$SYS/sub/add';

interface Subscription {
  topic: string;
  qos: number;
}

interface PersistenceInternals {
  broker?: {
    publish(packet: object, done: (error?: Error) => void): void;
  };
  asyncPersistence: { subscriptionsByClient(client: { id: string }): Promise<Subscription[]> };
}

/** Returns how many sessions' subscriptions were announced again. */
export async function resyncSubscriptions(persistence: unknown, db: Redis): Promise<number> {
  const internals = persistence as PersistenceInternals;
  const broker = internals.broker;
  if (!broker) return 0;
  const ids = await db.smembers(CLIENTS_KEY);
  let sessions = 0;
  for (const id of ids) {
    const subs = await internals.asyncPersistence.subscriptionsByClient({ id });
    if (subs.length === 0) continue;
    const payload = Buffer.from(JSON.stringify({ clientId: id, subs }));
    await new Promise<void>((resolve, reject) =>
      broker.publish(
        { cmd: 'publish', topic: ANNOUNCE_TOPIC, payload, qos: 0, retain: false, dup: false },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    sessions++;
  }
  return sessions;
}
