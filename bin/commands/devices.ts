import { type Command, Option } from 'commander';
import { UserError } from '../../core/user-error.ts';
import { parseValidity } from '../../core/validity.ts';
import { startBroker } from '../../broker/index.ts';
import { type LocalCluster, startLocalCluster } from '../../broker/cluster/index.ts';
import {
  type BrokerAddress,
  type DeviceEvent,
  auditFileExplainer,
  brokerAuditExplainer,
  firstExplanation,
  formatSummary,
  parseProfiles,
  summarize,
} from '../../devices/index.ts';
import { runHeadlessFleet } from '../../devices/run.ts';
import { brokerProblem } from '../../devices/check/preflight.ts';
import { ensurePki } from '../../pki/index.ts';
import { parseRogueKinds, ROGUE_KINDS } from '../../core/rogues.ts';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { collectList, duration, stateDirOf, wholeNumber } from '../options.ts';

interface RunOptions {
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

/** `20%` or `0.2` → 0.2: the share of a certificate's lifetime left when a device renews it. */
export function renewBefore(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value);
  const share = match ? Number(match[1]) / (match[2] ? 100 : 1) : Number.NaN;
  if (!(share > 0 && share < 1)) {
    throw new UserError(
      'invalid --renew-before',
      `"${value}" is not a share of the lifetime`,
      'Use e.g. 20% or 0.2.',
    );
  }
  return share;
}

export function parseBrokerUrl(url: string): BrokerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError('invalid --broker', `"${url}" is not a URL`, 'Use e.g. mqtts://localhost:8883.');
  }
  if (parsed.protocol !== 'mqtts:' && parsed.protocol !== 'ssl:' && parsed.protocol !== 'tls:') {
    throw new UserError(
      'invalid --broker',
      `"${parsed.protocol}" is not mutual TLS`,
      'Use mqtts://host:port.',
    );
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: parsed.port ? Number(parsed.port) : 8883 };
}

export function registerDevicesCommands(program: Command): void {
  const devices = program.command('devices').description('simulated devices and rogues');
  devices
    .command('run')
    .description('run a headless fleet against our embedded broker or any mTLS broker, then summarize')
    .option('-n, --count <n>', 'number of well-behaved devices', wholeNumber('--count', 0, 100_000), 10)
    .option(
      '--profile <names...>',
      'sensor profiles, round-robin: climate, tracker, meter, door',
      collectList,
    )
    .option('--rogue <kinds...>', `rogue devices to add (repeatable): ${ROGUE_KINDS.join(', ')}`, collectList)
    .addOption(
      new Option('--duration <time>', 'how long to run (e.g. 30s, 2m)')
        .argParser(duration('--duration'))
        .default(30_000, '30s'),
    )
    .addOption(
      new Option('--interval <time>', 'telemetry interval per device')
        .argParser(duration('--interval'))
        .default(5_000, '5s'),
    )
    .option(
      '--broker <url>',
      'an external broker (mqtts://host:port) instead of the embedded one; several, comma-separated, for the nodes of a cluster (devices fail over between them)',
    )
    .option(
      '--cluster <n>',
      'instead of the embedded broker: a local cluster of N broker nodes on Redis, devices spread over the nodes and failing over between them',
      wholeNumber('--cluster', 1, 16),
    )
    .option(
      '--redis <url>',
      'with --cluster: the Redis the nodes use (redis://HOST:PORT); default: a redis-server started and stopped for the run',
    )
    .option('--ca <file>', 'root CA that signs the broker certificate (default: our PKI root)')
    .option('--rate <n>', 'new connections per second, fleet-wide', wholeNumber('--rate', 1, 100_000), 50)
    .option('--workers <n>', 'worker threads (default: one per core)', wholeNumber('--workers', 1, 256))
    .option('--seed <text>', 'seed of the sensor data (same seed, same data)', 'certfleet')
    .addOption(
      new Option('--key-type <type>', 'key type of newly issued device identities')
        .choices(['ec', 'rsa'])
        .default('ec'),
    )
    .addOption(
      new Option(
        '--validity <time>',
        'issue the devices fresh certificates of this lifetime: 20s, 10m, 12h, 30d',
      ).argParser((value) => parseValidity(value, '--validity')),
    )
    .option(
      '--no-rotate',
      'do not renew certificates over MQTT before they expire (rotation is on by default)',
    )
    .addOption(
      new Option('--renew-before <percent>', 'renew when this share of the lifetime remains, e.g. 20%')
        .argParser(renewBefore)
        .default(0.2, '20%'),
    )
    .option(
      '--claim <name>',
      'start the devices with claim certificate NAME: each provisions its own identity',
    )
    .addOption(
      new Option('--protocol <version>', 'MQTT version the devices speak: 5, or 4 (MQTT 3.1.1)')
        .choices(['4', '5'])
        .default('5'),
    )
    .option('--strict', 'embedded broker: close right after a refused handshake instead of CONNACK 5')
    .option('--json', 'print one JSON object with the summary and per-device results')
    .addHelpText(
      'after',
      `
Examples:
  $ certfleet devices run --count 20 --duration 30s
  $ certfleet devices run --count 1 --validity 20s --duration 2m            (rotates every ~16 s)
  $ certfleet devices run --count 1 --validity 20s --no-rotate --duration 30s (cut at expiry: EXPIRED)
  $ certfleet pki issue --claim factory --quota 50 && certfleet devices run --claim factory --count 50
  $ certfleet devices run --count 5 --rogue expired --rogue no-cert --rogue wildcard-snoop --duration 10s
  $ certfleet devices run --profile tracker,meter --count 100 --rate 20 --json
  $ certfleet devices run --broker mqtts://localhost:8883 --ca ./ca.crt --count 50
  $ certfleet devices run --cluster 3 --count 30                          three broker nodes on a redis-server of their own
  $ certfleet devices run --cluster 2 --redis redis://127.0.0.1:6379      …on a Redis already running`,
    )
    .action(async (options: RunOptions, command: Command) => {
      await runDevices(stateDirOf(command), options);
    });
}

async function runDevices(stateDir: string, options: RunOptions): Promise<void> {
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
  const explain = cluster
    ? Object.assign(firstExplanation(...cluster.nodes.map((node) => auditFileExplainer(node.auditFile))), {
        close: () => {},
      })
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
