/**
 * A cluster on this machine for `certfleet ui --cluster N` and `certfleet devices run --cluster N`: N broker nodes,
 * each its own `certfleet broker --redis … --node-id local-<i>` process on its own free port (so devices can be
 * spread over the nodes and fail over between them), on the Redis given or on one started here for the purpose.
 * Every process is tied to ours (`--stop-with-parent`, Redis' lifeline): none outlives the command, even a SIGKILLed
 * one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../core/user-error.ts';
import { type LocalRedis, startLocalRedis } from './local-redis.ts';
import { parseRedisUrl } from './redis-url.ts';
import { stopChild } from '../../core/stop-child.ts';

/** The `certfleet` command: a node is a real broker process, started the way a person would start it. */
const CLI = fileURLToPath(new URL('../../bin/certfleet.js', import.meta.url));
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

function startNode(
  id: string,
  redis: string,
  options: LocalClusterOptions,
  spawned: (child: ChildProcess) => void,
): Promise<LocalNode> {
  const host = options.host ?? '127.0.0.1';
  const args = [
    CLI,
    '--state-dir',
    options.stateDir,
    'broker',
    '--host',
    host,
    '--port',
    '0',
    '--redis',
    redis,
    '--node-id',
    id,
    ...(options.brokerArgs ?? []),
    '--json-ready',
    '--stop-with-parent',
  ];
  // stdin stays open as a lifeline: when this process dies, even by SIGKILL, the node sees EOF and stops.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  spawned(child);
  const stderrTail: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const said = stderrTail.join('\n').trim();
      reject(new UserError(`cannot start cluster node ${id}`, why, said ? `It said:\n${said}` : undefined));
    };
    // Generous: on a loaded machine loading the broker's modules alone has taken over 20 s.
    const timer = setTimeout(() => fail('it did not report ready in time'), options.timeoutMs ?? 60_000);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`it exited (${signal ?? `code ${code}`}) before it was ready`));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      if (settled) options.onLine?.(id, line);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (settled) return;
      let ready: { event?: string; port?: number; url?: string; auditFile?: string; host?: string };
      try {
        ready = JSON.parse(line);
      } catch {
        return;
      }
      if (ready.event !== 'listening' || typeof ready.port !== 'number') return;
      settled = true;
      clearTimeout(timer);
      resolve({
        id,
        host: ready.host ?? host,
        port: ready.port,
        url: ready.url ?? `mqtts://${host}:${ready.port}`,
        auditFile: ready.auditFile ?? '',
        child,
        ready: ready as Record<string, unknown>,
        lastWords: () => [...stderrTail],
      });
    });
  });
}
