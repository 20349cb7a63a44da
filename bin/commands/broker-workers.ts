/**
 * `certfleet broker --workers N`: N broker processes on one machine, sharing the listening port through
 * node:cluster (the primary accepts and hands each connection to a worker, round robin), each a node of the
 * Redis cluster with its own node id (`<node-id>-<n>`) and audit file. The primary only supervises: it says when
 * every worker listens, forwards a shutdown, and replaces a worker that died.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';

export const NODE_ID_ENV = 'CERTFLEET_NODE_ID';

export function parseWorkers(value: string): number {
  if (value === 'auto') return availableParallelism();
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < 1 || parsed > 256) {
    throw new InvalidArgumentError(
      `--workers must be 'auto' or a whole number from 1 to 256 (got '${value}')`,
    );
  }
  return parsed;
}

export function isBrokerWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: tell the primary this node listens. */
export function reportListening(ready: Record<string, unknown>): void {
  process.send?.({ certfleet: 'listening', ...ready });
}

export interface WorkersOptions {
  count: number;
  nodeId: string;
  jsonReady: boolean;
  stopWithParent: boolean;
}

export async function superviseWorkers(options: WorkersOptions): Promise<void> {
  let stopping = false;
  let restarts = 0;
  const ready = new Map<Worker, Record<string, unknown>>();
  const live = new Set<Worker>();
  let announced = false;

  const fork = (nodeId: string) => {
    const worker = cluster.fork({ [NODE_ID_ENV]: nodeId });
    live.add(worker);
    worker.on('message', (message: { certfleet?: string } & Record<string, unknown>) => {
      if (message?.certfleet !== 'listening') return;
      ready.set(worker, message);
      if (!announced && ready.size === options.count) announce();
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      ready.delete(worker);
      if (stopping) return;
      // A node that died is replaced under a new id: the old one stays claimed in Redis until its lease runs out.
      const next = `${nodeId.replace(/\.r\d+$/, '')}.r${++restarts}`;
      process.stderr.write(
        `warning: broker node ${nodeId} exited (${signal ?? `code ${code}`}); starting ${next}\n`,
      );
      setTimeout(() => {
        if (!stopping) fork(next);
      }, 1000);
    });
  };

  const announce = () => {
    announced = true;
    const nodes = [...ready.values()].sort((a, b) => String(a.node).localeCompare(String(b.node)));
    const first = nodes[0]!;
    if (options.jsonReady) {
      const { certfleet: _, node: __, auditFile: ___, ...shared } = first;
      const workers = nodes.map((n) => ({ node: n.node, pid: n.pid, auditFile: n.auditFile }));
      const line = { ...shared, event: 'listening', pid: process.pid, workers };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } else {
      const ids = nodes.map((n) => n.node).join(', ');
      process.stdout.write(
        `listening on ${first.url} with ${options.count} workers (nodes ${ids}; Ctrl-C stops)\n`,
      );
    }
  };

  for (let index = 1; index <= options.count; index++) fork(`${options.nodeId}-${index}`);

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      process.once(signal, () => process.exit(130));
      if (live.size === 0) return resolve();
      for (const worker of live) {
        worker.once('exit', () => live.size === 0 && resolve());
        worker.process.kill('SIGTERM');
      }
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    if (options.stopWithParent) process.stdin.once('end', () => stop('SIGTERM')).resume();
  });
  if (!options.jsonReady) process.stdout.write('broker stopped (all workers)\n');
}
