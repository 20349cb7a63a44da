/**
 * certfleet as a cluster on Redis, for the `cluster` suite, in its own processes:
 *   node --import tsx bench/servers/certfleet-cluster.ts <stateDir> <redisUrl> <nodes>
 * One node: one process. More: node:cluster workers sharing one port (what `certfleet broker --workers N` runs),
 * so one load generator spreads over them (the primary hands out connections round robin).
 * Prints one JSON line {"port","pid","pids":[every process that serves]} when all listen; SIGTERM stops them.
 */
import cluster from 'node:cluster';
import { join } from 'node:path';
import { startBroker } from '../../broker/index.ts';
import { createClusterParts } from '../../broker/cluster/index.ts';

const [stateDir, redisUrl, nodesText] = process.argv.slice(2);
if (!stateDir || !redisUrl || !nodesText)
  throw new Error('usage: certfleet-cluster.ts <stateDir> <redisUrl> <nodes>');
const nodes = Number(nodesText);

async function runNode(nodeId: string) {
  const parts = await createClusterParts({ redis: redisUrl!, nodeId });
  const broker = await startBroker({
    stateDir: stateDir!,
    port: 0,
    auditFile: join(stateDir!, `bench-audit-${nodeId}-${process.pid}.jsonl`),
    // As bench/servers/certfleet-broker.ts: one load-generator address would measure the flood defences.
    limits: {
      maxConnections: 100_000,
      maxHandshakes: 100_000,
      maxHandshakesPerAddress: 100_000,
      connectionRatePerAddress: 0,
      connectionRatePerIdentity: 0,
    },
    cluster: parts,
  });
  broker.on('warning', (error) => process.stderr.write(`warning: ${nodeId}: ${error.message}\n`));
  process.once('SIGTERM', () => void broker.close().then(() => process.exit(0)));
  return broker.port;
}

if (nodes === 1) {
  const port = await runNode(`bench-1-${process.pid}`);
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid, pids: [process.pid] })}\n`);
} else if (cluster.isPrimary) {
  const ready: { port: number; pid: number }[] = [];
  const workers = Array.from({ length: nodes }, (_, i) =>
    cluster.fork({ BENCH_NODE: `bench-${i + 1}-${process.pid}` }),
  );
  for (const worker of workers) {
    worker.on('message', (message: { port: number; pid: number }) => {
      ready.push(message);
      if (ready.length === nodes) {
        const pids = [process.pid, ...ready.map((r) => r.pid)];
        process.stdout.write(`${JSON.stringify({ port: message.port, pid: process.pid, pids })}\n`);
      }
    });
  }
  process.once('SIGTERM', () => {
    let left = workers.length;
    for (const worker of workers) {
      worker.once('exit', () => --left === 0 && process.exit(0));
      worker.process.kill('SIGTERM');
    }
  });
} else {
  const port = await runNode(process.env.BENCH_NODE!);
  process.send?.({ port, pid: process.pid });
}
