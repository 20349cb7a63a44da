/**
 * A cluster on this machine for `certfleet ui --cluster N` and `certfleet devices run --cluster N`: N broker nodes,
 * each its own `certfleet broker --redis … --node-id local-<i>` process on its own free port (so devices can be
 * spread over the nodes and fail over between them), on the Redis given or on one started here for the purpose.
 * Every process is tied to ours (`--stop-with-parent`, Redis' lifeline): none outlives the command, even a SIGKILLed
 * one.
 */
import type { ChildProcess } from 'node:child_process';
import { stopChild } from '../../core/stop-child.ts';
import { UserError } from '../../core/user-error.ts';
import { startBrokerChild } from '../broker-child.ts';
import { type LocalRedis, startLocalRedis } from './local-redis.ts';
import { parseRedisUrl } from './redis-url.ts';

export const MAX_LOCAL_NODES = 16;

export interface LocalNode {
  /** `local-1`… */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly auditFile: string;
  readonly child: ChildProcess;
  /** Everything its ready line said (TLS versions, CA fingerprint…). */
  readonly ready: Record<string, unknown>;
  /** The node's last lines on stderr. */
  lastWords(): string[];
}

export interface LocalCluster {
  /** Where the nodes meet (credentials never included). */
  readonly redis: string;
  /** Whether Redis was started here (and is stopped with the cluster). */
  readonly ownRedis: boolean;
  readonly redisPid: number | undefined;
  readonly nodes: readonly LocalNode[];
  /** The node whose address is `host:port`, if any. */
  nodeAt(host: string, port: number): LocalNode | undefined;
  /** Stops every node (SIGTERM, SIGKILL after 3 s), then Redis if it was started here. Idempotent. */
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  stateDir: string;
  nodes: number;
  /** An existing Redis; default: start one. */
  redis?: string;
  host?: string;
  /** Each node's lines on stderr after it is ready (warnings). */
  onLine?: (node: string, line: string) => void;
  /** Extra `certfleet broker` arguments for every node (e.g. `--strict`). */
  brokerArgs?: string[];
  timeoutMs?: number;
}

export function validateClusterSize(nodes: number): number {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_LOCAL_NODES) {
    throw new UserError(
      'invalid --cluster',
      `${nodes} is not a number of nodes from 1 to ${MAX_LOCAL_NODES}`,
      'Use e.g. --cluster 2 (each node is one broker process).',
    );
  }
  return nodes;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  validateClusterSize(options.nodes);
  if (options.redis !== undefined) parseRedisUrl(options.redis); // a typo is an ERROR now, not N failed nodes
  const ownRedis: LocalRedis | null = options.redis === undefined ? await startLocalRedis() : null;
  const redisUrl = options.redis ?? (ownRedis as LocalRedis).url;
  const started: LocalNode[] = [];
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(children.map((child) => stopChild(child)));
    await ownRedis?.stop();
  };
  try {
    const ids = Array.from({ length: options.nodes }, (_, i) => `local-${i + 1}`);
    const nodes = await Promise.all(
      ids.map((id) => startNode(id, redisUrl, options, (child) => children.push(child))),
    );
    started.push(...nodes);
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopping: Promise<void> | null = null;
  return {
    redis: parseRedisUrl(redisUrl).display,
    ownRedis: ownRedis !== null,
    redisPid: ownRedis?.pid,
    nodes: started,
    nodeAt: (host, port) => started.find((node) => node.port === port && node.host === host),
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}

async function startNode(
  id: string,
  redis: string,
  options: LocalClusterOptions,
  spawned: (child: ChildProcess) => void,
): Promise<LocalNode> {
  const host = options.host ?? '127.0.0.1';
  const { child, ready, lastWords } = await startBrokerChild({
    stateDir: options.stateDir,
    brokerArgs: [
      '--host',
      host,
      '--port',
      '0',
      '--redis',
      redis,
      '--node-id',
      id,
      ...(options.brokerArgs ?? []),
    ],
    failure: `cannot start cluster node ${id}`,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    onLine: (line, stream) => {
      if (stream === 'stderr') options.onLine?.(id, line);
    },
    spawned,
  });
  return {
    id,
    host: typeof ready.host === 'string' ? ready.host : host,
    port: ready.port,
    url: typeof ready.url === 'string' ? ready.url : `mqtts://${host}:${ready.port}`,
    auditFile: typeof ready.auditFile === 'string' ? ready.auditFile : '',
    child,
    ready,
    lastWords,
  };
}
