/**
 * What turns one broker into a node of a cluster: aedes' message bus (mqemitter-redis) and its persistence
 * (aedes-persistence-redis: sessions, subscriptions, retained messages, QoS 1/2 queues) on a shared Redis; a node
 * id claimed in Redis so two live nodes can never share one; CRLs shared through Redis, verified before use; and
 * a gate that refuses new sessions while Redis is out of reach.
 *
 * broker.ts takes these parts as `options.cluster`; without them it is the in-memory single process it always was.
 */
import type { AuthenticateError, Client } from 'aedes';
import persistenceRedis from 'aedes-persistence-redis';
import mqemitterRedis from 'mqemitter-redis';
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { UserError } from '../../core/user-error.ts';
import { auditBase, type ConnectionInfo } from '../authorization.ts';
import { CrlShare, type CrlShareHooks } from './crl-share.ts';
import { PolicyShare, type PolicyShareHooks } from './policy-share.ts';
import { defaultNodeId, validateNodeId } from './node-id.ts';
import { RedisLink, settle } from './redis-link.ts';
import { resyncSubscriptions } from './subscription-resync.ts';
import { parseRedisUrl } from './redis-url.ts';

export interface ClusterOptions {
  /** `redis://host:port[/db]` */
  redis: string;
  /** Default `<hostname>-<pid>`. */
  nodeId?: string;
  /** How long to wait for Redis at start, ms (default 10000: a loaded machine is slow to open four connections). */
  connectTimeoutMs?: number;
}

type Authenticate = (
  client: Client,
  username: Readonly<string | undefined>,
  password: Readonly<Buffer | undefined>,
  done: (error: AuthenticateError | null, success: boolean | null) => void,
) => void;

export interface BrokerHooks extends CrlShareHooks, Omit<PolicyShareHooks, 'revoked'> {
  infoOf(client: Client): ConnectionInfo | undefined;
}

export interface ClusterParts {
  readonly nodeId: string;
  /** The Redis URL without credentials. */
  readonly redis: string;
  /** Spread into `Aedes.createBroker`. */
  readonly aedesOptions: { id: string; mq: unknown; persistence: unknown; heartbeatInterval: number };
  /** null while Redis is reachable; else why not. */
  unavailable(): string | null;
  /** Wraps the broker's authenticate hook: CONNACK 3 "server unavailable", audited, while Redis is out of reach. */
  guardAuthenticate(authenticate: Authenticate): Authenticate;
  /** Called once the broker runs: audit transitions, share and receive CRLs. */
  attach(hooks: BrokerHooks): Promise<void>;
  /** The broker's CRL file changed: offer it to the cluster. */
  crlChanged(pem: string): void;
  /** The broker's policy file changed to this (valid) text: sign it and share it with the cluster. */
  policyChanged(yaml: string): void;
  /** Whether this text is the policy in force already (a node sharing the file may have brought it first). */
  policyInForce(yaml: string): boolean;
  /** After the broker closed: release the node id, close every Redis connection. */
  close(): Promise<void>;
}

const NODE_KEY = (id: string) => `certfleet:node:${id}`;
const CLAIM_TTL_MS = 10_000;
/** aedes announces each node every heartbeat; a node silent for three is dead and its clients' wills go out. */
const HEARTBEAT_MS = 5000;
const RELEASE_IF_MINE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
const RENEW_IF_MINE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";

export async function createClusterParts(options: ClusterOptions): Promise<ClusterParts> {
  const target = parseRedisUrl(options.redis);
  const nodeId = validateNodeId(options.nodeId ?? defaultNodeId());
  const link = new RedisLink(target.options, nodeId);
  link.start();
  try {
    await link.ready(options.connectTimeoutMs ?? 10_000);
  } catch (error) {
    await link.close();
    throw new UserError(
      'cannot join the cluster',
      `Redis at ${target.display} did not answer: ${(error as Error).message}`,
      'Start redis-server there, or fix --redis.',
    );
  }
  const token = randomUUID();
  const claimed = await link.db.set(NODE_KEY(nodeId), token, 'PX', CLAIM_TTL_MS, 'NX');
  if (claimed !== 'OK') {
    await link.close();
    throw new UserError(
      'cannot join the cluster',
      `node id '${nodeId}' is in use by a live node`,
      `Pick another --node-id (a node that crashed frees its id within ${CLAIM_TTL_MS / 1000} s).`,
    );
  }
  const renew = setInterval(() => {
    link.db.eval(RENEW_IF_MINE, 1, NODE_KEY(nodeId), token, String(CLAIM_TTL_MS)).catch(() => undefined);
  }, CLAIM_TTL_MS / 3);
  renew.unref();

  const mq = mqemitterRedis({ subConn: link.sub, pubConn: link.pub });
  // mqemitter-redis re-emits every connection error on `state`; unheard, the first one kills the process. The
  // link already turns them into cluster-detached / CONNACK 3.
  (mq as unknown as { state: EventEmitter }).state.on('error', () => {});
  boundClose(mq as unknown as BusInternals, link);
  const persistence = persistenceRedis({ conn: link.db });
  let hooks: BrokerHooks | null = null;
  let share: CrlShare | null = null;
  let policyShare: PolicyShare | null = null;

  return {
    nodeId,
    redis: target.display,
    aedesOptions: { id: nodeId, mq, persistence, heartbeatInterval: HEARTBEAT_MS },
    unavailable: () => link.unavailable(),

    guardAuthenticate(authenticate) {
      return (client, username, password, done) => {
        const why = link.unavailable();
        if (why === null) return authenticate(client, username, password, done);
        const info = hooks?.infoOf(client);
        if (info) {
          info.settled = true;
          hooks?.audit({
            event: 'connect-refused',
            reason: 'CLUSTER_UNAVAILABLE',
            ...auditBase(info, client.id),
            cert: info.cert,
            detail: why,
          });
        }
        done(Object.assign(new Error(why), { returnCode: 3 as const }), false); // 3.1.1 CONNACK 3: server unavailable
      };
    },

    async attach(brokerHooks) {
      hooks = brokerHooks;
      link.on('detached', (why) =>
        brokerHooks.audit({
          event: 'cluster-detached',
          reason: 'CLUSTER_UNAVAILABLE',
          detail: `${why}: refusing new connections`,
        }),
      );
      link.on('attached', () => {
        // Announcements made while this node was away were lost (pub/sub does not queue): read what the store holds
        // now — the CRL, the policy, and every persistent subscription (subscription-resync.ts).
        share?.catchUp().catch((error: Error) => brokerHooks.warn(error));
        policyShare?.catchUp().catch((error: Error) => brokerHooks.warn(error));
        void resyncSubscriptions(persistence, link.db).then(
          (sessions) =>
            brokerHooks.audit({
              event: 'cluster-attached',
              reason: 'OK',
              detail: `Redis ${target.display} is back; re-read the subscriptions of ${sessions} persistent session(s)`,
            }),
          (error: Error) =>
            brokerHooks.audit({
              event: 'cluster-attached',
              reason: 'OK',
              detail: `Redis ${target.display} is back; could not re-read the persistent subscriptions: ${error.message}`,
            }),
        );
      });
      share = new CrlShare(link.db, link.control, nodeId, brokerHooks);
      await share.start();
      policyShare = new PolicyShare(link.db, link.control, nodeId, {
        ...brokerHooks,
        revoked: () => brokerHooks.current().revoked,
      });
      await policyShare.start();
    },

    crlChanged(pem) {
      share?.offer(pem).catch((error: Error) => hooks?.warn(error));
    },

    policyChanged(yaml) {
      policyShare?.offer(yaml).catch((error: Error) => hooks?.warn(error));
    },

    policyInForce(yaml) {
      return policyShare?.inForce(yaml) ?? false;
    },

    async close() {
      clearInterval(renew);
      if (link.db.status === 'ready')
        await settle(link.db.eval(RELEASE_IF_MINE, 1, NODE_KEY(nodeId), token), 1000);
      // Without a callback: the callback form waits for a 'ready' event aedes 2 never causes.
      await Promise.resolve(persistence.destroy()).catch(() => undefined);
      await link.close();
    },
  };
}

interface BusInternals {
  close(callback?: () => void): unknown;
  /** mqemitter's own close, kept by mqemitter-redis before it wraps `close` with QUITs. */
  _close(callback?: () => void): unknown;
}

/**
 * aedes closes the bus with mqemitter-redis' close, which QUITs both connections and waits for their 'end': with
 * Redis gone that never comes and the broker would never finish shutting down. Give it one second.
 */
function boundClose(bus: BusInternals, link: RedisLink): void {
  for (const connection of [link.sub, link.pub]) {
    // mqemitter-redis drops the promise of its QUIT: cut short, it would reject unheard and end the process.
    const quit = connection.quit.bind(connection);
    connection.quit = ((...args: Parameters<typeof quit>) => {
      const result = quit(...args);
      result.catch(() => {});
      return result;
    }) as typeof connection.quit;
  }
  const close = bus.close.bind(bus);
  bus.close = (callback?: () => void) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      callback?.();
    };
    const timer = setTimeout(
      () => {
        link.sub.disconnect();
        link.pub.disconnect();
        bus._close(finish);
      },
      link.unavailable() === null ? 1000 : 0,
    );
    close(finish);
    return bus;
  };
}
