/**
 * `certfleet devices run`: the headless fleet against our embedded broker, a local cluster or any mTLS broker.
 * Its own module, imported only when the command runs (devices.ts registers it), so that the other commands start
 * without loading the fleet, the broker and the cluster.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startBroker } from '../../broker/index.ts';
import { type LocalCluster, startLocalCluster } from '../../broker/cluster/index.ts';
import { parseRogueKinds } from '../../core/rogues.ts';
import { UserError } from '../../core/user-error.ts';
import {
  type DeviceEvent,
  auditFileExplainer,
  brokerAuditExplainer,
  explainOnDialledNode,
  formatSummary,
  parseProfiles,
  summarize,
} from '../../devices/index.ts';
import { runHeadlessFleet } from '../../devices/run.ts';
import { brokerProblem } from '../../devices/check/preflight.ts';
import { ensurePki } from '../../pki/index.ts';
import { parseBrokerUrl } from './devices.ts';

export interface RunOptions {
  count: number;
  profile?: string[];
  rogue?: string[];
  duration: number;
  interval: number;
  broker?: string;
  ca?: string;
  rate: number;
  workers?: number;
  seed: string;
  keyType: 'ec' | 'rsa';
  validity?: number;
  rotate: boolean;
  renewBefore: number;
  claim?: string;
  strict?: boolean;
  json?: boolean;
  protocol: '4' | '5';
  cluster?: number;
  redis?: string;
}

export async function runDevices(stateDir: string, options: RunOptions): Promise<void> {
  const durationMs = options.duration;
  const intervalMs = options.interval;
  const profiles = parseProfiles(options.profile);
  const rogues = parseRogueKinds(options.rogue ?? []);
  const ca = options.ca ? resolve(options.ca) : undefined;
  if (ca && !existsSync(ca)) throw new UserError('cannot read --ca', `${ca} does not exist`);
  checkClusterOptions(options);
  const layout = await ensurePki(stateDir);

  const cluster =
    options.cluster === undefined
      ? undefined
      : await startLocalCluster({
          stateDir,
          nodes: options.cluster,
          ...(options.redis !== undefined && { redis: options.redis }),
          ...(options.strict && { brokerArgs: ['--strict'] }),
        });
  const broker =
    options.broker || cluster
      ? undefined
      : await startBroker({ stateDir, port: 0, ...(options.strict && { strict: true }) });
  // Several URLs, comma-separated: the nodes of a broker cluster; devices fail over between them.
  const addresses =
    cluster?.nodes.map(({ host, port }) => ({ host, port })) ??
    options.broker?.split(',').map((url) => parseBrokerUrl(url.trim()));
  const address = addresses?.[0] ?? { host: '127.0.0.1', port: broker?.port ?? 0 };
  // Exit code 2, like `certfleet check`: the run cannot happen (unreachable, not TLS, not MQTT).
  const problem = options.broker ? await brokerProblem(stateDir, address, ca) : undefined;
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exitCode = 2;
    return;
  }
  // The broker's audit names the reasons a client cannot see: live from the embedded broker, else from the
  // audit file a `certfleet broker` on this state dir writes.
  const auditFile = resolve(layout.stateDir, 'audit.jsonl');
  // Of a cluster, the node the device dialled: a local port is unique per destination, so another node's file may
  // hold a record of a different device's connection from the same port.
  const explain = cluster
    ? Object.assign(
        explainOnDialledNode(
          cluster.nodes.map((node) => ({
            at: `${node.host}:${node.port}`,
            explain: auditFileExplainer(node.auditFile),
          })),
        ),
        { close: () => {} },
      )
    : brokerAuditExplainer({ auditFile, ...(broker && { broker }) });
  // Which node each device is on: the node id of a local cluster, the URL of a node of --broker a,b.
  const nodeOf = cluster
    ? (at: string) => cluster.nodes.find((node) => `${node.host}:${node.port}` === at)?.id ?? at
    : addresses && addresses.length > 1
      ? (at: string) => `mqtts://${at}`
      : undefined;

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const brokerName = cluster
    ? clusterName(cluster)
    : broker
      ? `${broker.url} (embedded broker)`
      : (options.broker as string);
  if (!options.json) {
    process.stderr.write(
      `running ${options.count} device(s) + ${rogues.length} rogue(s) against ${brokerName} for ${durationMs / 1000}s (Ctrl-C stops)\n`,
    );
  }
  try {
    const run = await runHeadlessFleet({
      plan: {
        stateDir,
        broker: address,
        ...(addresses && addresses.length > 1 && { brokers: addresses }),
        ...(ca && { ca }),
        count: options.count,
        profiles,
        rogues,
        intervalMs,
        seed: options.seed,
        keyType: options.keyType,
        ...(options.validity !== undefined && { validityMs: options.validity }),
        rotate: options.rotate,
        renewBefore: options.renewBefore,
        ...(options.claim !== undefined && { claim: options.claim }),
        protocolVersion: options.protocol === '4' ? 4 : 5,
      },
      fleet: {
        connectRatePerSecond: options.rate,
        ...(options.workers && { workers: options.workers }),
        explain,
      },
      durationMs,
      signal: abort.signal,
      ...(!options.json && { onEvents: printRejections }),
    });
    const summary = summarize(brokerName, run.final, run.stopped, run.errors, nodeOf);
    if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else process.stdout.write(`${formatSummary(summary)}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    explain.close();
    await broker?.close();
    await cluster?.stop();
  }
}

function checkClusterOptions(options: RunOptions): void {
  if (options.cluster !== undefined && options.broker !== undefined) {
    throw new UserError(
      'cannot use --cluster with --broker',
      '--cluster starts brokers here, --broker points at brokers elsewhere',
      'Drop one of them (several --broker URLs, comma-separated, are the nodes of a cluster running elsewhere).',
    );
  }
  if (options.redis !== undefined && options.cluster === undefined) {
    throw new UserError(
      'cannot use --redis without --cluster',
      'the embedded broker is one process and needs no Redis',
      'Add --cluster N to start N broker nodes on that Redis.',
    );
  }
}

/** `a local cluster of 2 nodes (local-1 mqtts://127.0.0.1:40001, …) on redis://127.0.0.1:41234/0, started for this run` */
function clusterName(cluster: LocalCluster): string {
  const nodes = cluster.nodes.map((node) => `${node.id} ${node.url}`).join(', ');
  const redis = `${cluster.redis}${cluster.ownRedis ? ', started for this run' : ''}`;
  return `a local cluster of ${cluster.nodes.length} node(s) (${nodes}) on ${redis}`;
}

function printRejections(events: readonly DeviceEvent[]): void {
  for (const event of events) {
    if (event.type !== 'rejected') continue;
    const source = event.explainedBy ? ' [broker audit]' : '';
    process.stderr.write(`  ✗ ${event.id}: ${event.reason} at ${event.step}${source} — ${event.detail}\n`);
  }
}
