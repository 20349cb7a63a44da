/**
 * `certfleet ui --cluster N`: the dashboard's broker is a local cluster of N nodes (broker/cluster/local-cluster.ts:
 * N `certfleet broker --redis` processes, and a redis-server of their own unless `--redis` names one). It looks like
 * the single broker process to the rest of the dashboard — node local-1 is the one the dashboard's own client talks
 * to and whose death it reports — plus every node's address, for spreading the devices over them.
 */
import { startLocalCluster } from '../../broker/cluster/index.ts';
import type { BrokerAddress } from '../../devices/spec.ts';
import { type BrokerProcess, type StartBrokerOptions, startBroker } from './broker-process.ts';

export interface DashboardBroker extends BrokerProcess {
  /** Every node, local-1 first (absent: one broker). */
  readonly nodes?: readonly BrokerAddress[];
  /** For the pid file: every process started (nodes, Redis). */
  readonly pids: Record<string, number | undefined>;
  /** One line for the log: what was started. */
  readonly description?: string;
}

export interface DashboardBrokerOptions extends StartBrokerOptions {
  /** Nodes of a local cluster (absent: the single broker). */
  cluster?: number;
  /** The cluster's Redis (absent: start one). */
  redis?: string;
}

export async function startDashboardBroker(options: DashboardBrokerOptions): Promise<DashboardBroker> {
  if (options.cluster === undefined) {
    const broker = await startBroker(options);
    return Object.assign(broker, { pids: { broker: broker.child.pid } });
  }
  const cluster = await startLocalCluster({
    stateDir: options.stateDir,
    nodes: options.cluster,
    ...(options.redis !== undefined && { redis: options.redis }),
    ...(options.host !== undefined && { host: options.host }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    onLine: (node, line) => options.onLine?.(`${node}: ${line}`, 'stderr'),
  });
  const [first] = cluster.nodes;
  let stopping = false;
  // Node local-1's death is the broker's (bring-up.ts says so); another node's is worth a line: its devices move.
  for (const node of cluster.nodes.slice(1)) {
    node.child.once('exit', (code, signal) => {
      if (!stopping)
        options.onLine?.(
          `${node.id} exited (${signal ?? `code ${code}`}): its devices fail over to the other nodes`,
          'stderr',
        );
    });
  }
  const nodes = cluster.nodes.map(({ host, port }) => ({ host, port, servername: 'localhost' }));
  const list = cluster.nodes.map((node) => `${node.id} ${node.url}`).join(', ');
  return {
    child: first!.child,
    host: first!.host,
    port: first!.port,
    ready: first!.ready,
    lastWords: () => first!.lastWords(),
    stop: () => {
      stopping = true;
      return cluster.stop();
    },
    nodes,
    pids: {
      broker: first!.child.pid,
      ...Object.fromEntries(cluster.nodes.slice(1).map((node) => [node.id, node.child.pid])),
      ...(cluster.ownRedis && { redis: cluster.redisPid }),
    },
    description: `a local cluster of ${cluster.nodes.length} broker nodes (${list}) on ${cluster.redis}${cluster.ownRedis ? ', a redis-server started for the dashboard' : ''}; the devices are spread over the nodes`,
  };
}
