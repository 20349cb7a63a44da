import type { Command } from 'commander';
import { join } from 'node:path';
// Only what the options and help need is imported here; the broker itself (aedes, TLS, Redis) is imported when
// the command runs, so that every other command (`pki issue`, `--help`) starts without loading it.
import { AUDIT_TOPIC, type AuditRecord } from '../../broker/audit-record.ts';
import { type BrokerLimits, DEFAULT_LIMITS } from '../../broker/limits.ts';
import { escapeUntrusted } from '../../broker/untrusted-text.ts';
import { defaultNodeId, validateNodeId } from '../../broker/cluster/node-id.ts';
import { UserError } from '../../core/user-error.ts';
import {
  isBrokerWorker,
  NODE_ID_ENV,
  parseWorkers,
  reportListening,
  superviseWorkers,
} from './broker-workers.ts';

import { stateDirOf, wholeNumber } from '../options.ts';

/** Every broker bound as a flag: the option name is the limit's name (commander camel-cases the flag). */
interface LimitFlag {
  key: keyof BrokerLimits;
  flag: string;
  unit: string;
  min: number;
  max: number;
  help: string;
}

const LIMIT_FLAGS: LimitFlag[] = [
  {
    key: 'maxPacketSize',
    flag: '--max-packet-size',
    unit: 'bytes',
    min: 64,
    max: 268_435_455,
    help: 'largest MQTT packet accepted',
  },
  {
    key: 'maxConnections',
    flag: '--max-connections',
    unit: 'n',
    min: 1,
    max: 1_000_000,
    help: 'open connections; more are dropped before TLS',
  },
  {
    key: 'handshakeTimeoutMs',
    flag: '--handshake-timeout',
    unit: 'ms',
    min: 100,
    max: 600_000,
    help: 'time allowed for the TLS handshake (the socket is closed when it runs out)',
  },
  {
    key: 'maxHandshakes',
    flag: '--max-handshakes',
    unit: 'n',
    min: 1,
    max: 1_000_000,
    help: 'connections handshaking at once, at most (none added while the broker is CPU-bound); past it a new one is closed before TLS (BROKER_BUSY) or takes the slot of a silent peer',
  },
  {
    key: 'maxHandshakesPerAddress',
    flag: '--max-handshakes-per-address',
    unit: 'n',
    min: 1,
    max: 1_000_000,
    help: 'connections handshaking at once from one address; more are closed',
  },
  {
    key: 'connectionRatePerAddress',
    flag: '--connection-rate-per-address',
    unit: 'per-s',
    min: 0,
    max: 1_000_000,
    help: 'new connections per second from one address, bursts of twice that (0 = no limit)',
  },
  {
    key: 'connectionRatePerIdentity',
    flag: '--connection-rate-per-identity',
    unit: 'per-s',
    min: 0,
    max: 1_000_000,
    help: 'connections per second of one certificate name, bursts of twice that (0 = no limit)',
  },
  {
    key: 'maxRefusedPending',
    flag: '--max-refused-pending',
    unit: 'n',
    min: 0,
    max: 1_000_000,
    help: 'refused peers (no or bad certificate) kept to answer CONNACK 5; more are closed at once',
  },
  {
    key: 'connectTimeoutMs',
    flag: '--connect-timeout',
    unit: 'ms',
    min: 100,
    max: 600_000,
    help: 'time allowed between handshake and MQTT CONNECT',
  },
  {
    key: 'keepaliveLimit',
    flag: '--keepalive-limit',
    unit: 's',
    min: 0,
    max: 65_535,
    help: 'largest keepalive a client may ask for (0 = no limit; else keepalive 0 is refused too)',
  },
  {
    key: 'maxTopicLevels',
    flag: '--max-topic-levels',
    unit: 'n',
    min: 1,
    max: 100,
    help: 'most levels in a topic or filter',
  },
  {
    key: 'maxOutboundBuffer',
    flag: '--max-outbound-buffer',
    unit: 'bytes',
    min: 16_384,
    max: 1_073_741_824,
    help: 'bytes waiting to be sent to one client; past it the client is cut as SLOW_CONSUMER',
  },
  {
    key: 'maxClientIdLength',
    flag: '--max-client-id-length',
    unit: 'chars',
    min: 23,
    max: 65_535,
    help: 'longest MQTT client id accepted',
  },
  {
    key: 'maxSubscriptionsPerClient',
    flag: '--max-subscriptions',
    unit: 'n',
    min: 1,
    max: 1_000_000,
    help: 'subscriptions one client may hold; one more disconnects it',
  },
  {
    key: 'maxRetainedMessages',
    flag: '--max-retained',
    unit: 'n',
    min: 0,
    max: 10_000_000,
    help: 'topics holding a retained message; a retained publish to a new topic past it is refused',
  },
  {
    key: 'maxRetainedSize',
    flag: '--max-retained-size',
    unit: 'bytes',
    min: 0,
    max: 268_435_455,
    help: 'largest retained message payload',
  },
  {
    key: 'maxInflightInbound',
    flag: '--max-inflight',
    unit: 'n',
    min: 1,
    max: 65_535,
    help: "a client's QoS 2 messages awaiting PUBREL; one more disconnects it",
  },
  {
    key: 'maxQueuedMessages',
    flag: '--max-queued-messages',
    unit: 'n',
    min: 10,
    max: 1_000_000,
    help: 'messages waiting for delivery broker-wide; past it publishers are paused until half are out',
  },
];

/** commander stores `--max-packet-size` as `maxPacketSize`. */
function optionValue(options: object, flag: LimitFlag): number | undefined {
  const name = flag.flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  return (options as Record<string, number | undefined>)[name];
}

interface BrokerCommandOptions {
  host: string;
  port: number;
  policy?: string;
  auditFile?: string;
  strict?: boolean;
  jsonReady?: boolean;
  stopWithParent?: boolean;
  quiet?: boolean;
  redis?: string;
  nodeId?: string;
  workers?: number;
}

/** One audit record as a line a person reads: time, decision, reason, who, where, why. */
function formatRecord(record: AuditRecord): string {
  const who = [
    record.cn && `cn=${record.cn}`,
    record.clientId && record.clientId !== record.cn && `clientId=${record.clientId}`,
    record.peer && `peer=${record.peer.address}:${record.peer.port}`,
    record.topic && `topic=${record.topic}`,
  ].filter(Boolean);
  const time = record.ts.slice(11, 23);
  return `${time} ${record.event.padEnd(22)} ${record.reason.padEnd(17)} ${who.join(' ')}${record.detail ? ` (${record.detail})` : ''}`;
}

export function registerBrokerCommand(program: Command): void {
  const d = DEFAULT_LIMITS;
  const command = program
    .command('broker')
    .description('run the mutual-TLS MQTT broker: our CA only, CN → policy, every decision audited')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option(
      '--port <port>',
      'TCP port (0 = any free port; the real one is printed)',
      wholeNumber('--port', 0, 65535),
      8883,
    )
    .option('--policy <file>', 'policy file (YAML; default <state-dir>/policy.yaml, written by `pki init`)')
    .option('--audit-file <file>', 'where the JSONL audit goes (default <state-dir>/audit.jsonl)')
    .option(
      '--strict',
      'close a connection right after a refused handshake (default: answer its MQTT CONNECT with CONNACK 5 "not authorized" so clients stop retrying)',
    );
  for (const flag of LIMIT_FLAGS) {
    command.option(
      `${flag.flag} <${flag.unit}>`,
      flag.help,
      wholeNumber(flag.flag, flag.min, flag.max),
      d[flag.key],
    );
  }
  command
    .option(
      '--json-ready',
      'for a parent process: print one JSON line {"event":"listening","host","port",…} and no audit lines',
    )
    .option('--quiet', 'do not print audit records (they still go to the audit file and topic)')
    .option(
      '--redis <url>',
      'run as a node of a cluster on this Redis (redis://HOST:PORT[/DB]): sessions, subscriptions, QoS 1/2 queues, retained messages and CRLs shared by every node',
    )
    .option('--node-id <name>', "this node's name in the cluster and its audit (default <hostname>-<pid>)")
    .option(
      '--workers <n>',
      "broker processes on this machine sharing the port ('auto' = one per core; more than 1 needs --redis)",
      parseWorkers,
      1,
    )
    .option(
      '--stop-with-parent',
      'for a parent process: shut down cleanly when standard input closes (the parent exited, even by SIGKILL)',
    )
    .addHelpText(
      'after',
      `
What a refused device sees: the TLS handshake completes (so the broker can read and audit the certificate), then
its MQTT CONNECT is answered with CONNACK 5 "not authorized" and the connection closed; with --strict the connection
closes right after the handshake. A device with no certificate, or one not from our CA, never reaches MQTT.

The audit: one JSON record per line in the audit file, also published on $SYS/certfleet/audit for identities the
policy grants (the dashboard). Record shape: broker/audit-record.ts.

Examples:
  $ certfleet broker                                 mqtts://127.0.0.1:8883
  $ certfleet broker --port 0 --json-ready           any free port, one JSON ready line for a parent process
  $ certfleet broker --policy ./my-policy.yaml --strict
  $ certfleet broker --redis redis://10.0.0.5:6379 --node-id broker-a     a node of a cluster (one per machine…)
  $ certfleet broker --redis redis://127.0.0.1:6379 --workers auto        …or one per core, sharing the port
  $ mosquitto_pub -h 127.0.0.1 -p 8883 --cafile ca.crt --cert chain.pem --key key.pem \\
      -i sensor-001 -t devices/sensor-001/telemetry -m 21.5      (paths from \`certfleet pki show sensor-001 --json\`)`,
    )
    .action(async (options: BrokerCommandOptions, command: Command) => {
      const stateDir = stateDirOf(command);
      const workers = options.workers ?? 1;
      if (workers > 1 && options.redis === undefined) {
        throw new UserError(
          'cannot start the broker',
          `--workers ${workers} needs --redis: separate processes share sessions only through Redis`,
          'Add --redis redis://127.0.0.1:6379 (start redis-server first).',
        );
      }
      if (options.nodeId !== undefined) validateNodeId(options.nodeId);
      if (workers > 1 && !isBrokerWorker()) {
        await superviseWorkers({
          count: workers,
          nodeId: options.nodeId ?? defaultNodeId(),
          jsonReady: options.jsonReady === true,
          stopWithParent: options.stopWithParent === true,
        });
        process.exitCode = 0;
        return;
      }
      const nodeId = process.env[NODE_ID_ENV] ?? options.nodeId;
      const { startBroker } = await import('../../broker/broker.ts');
      const cluster =
        options.redis === undefined
          ? undefined
          : await (await import('../../broker/cluster/cluster-parts.ts')).createClusterParts({
              redis: options.redis,
              ...(nodeId !== undefined && { nodeId }),
            });
      // Each node keeps its own JSONL (nodes of one machine may share the state dir).
      const auditFile = options.auditFile ?? (cluster && join(stateDir, `audit-${cluster.nodeId}.jsonl`));
      const broker = await startBroker({
        stateDir,
        ...(cluster && { cluster }),
        host: options.host,
        port: options.port,
        strict: options.strict === true,
        ...(options.policy !== undefined && { policyFile: options.policy }),
        ...(auditFile !== undefined && { auditFile }),
        limits: Object.fromEntries(LIMIT_FLAGS.map((f) => [f.key, optionValue(options, f) ?? d[f.key]])),
      }).catch(async (error: unknown) => {
        await cluster?.close();
        throw error;
      });
      broker.on('warning', (error) =>
        process.stderr.write(`warning: ${escapeUntrusted(error.message, 1024)}\n`),
      );
      if (!options.quiet && !options.jsonReady) {
        broker.on('audit', (record) => process.stdout.write(`${formatRecord(record)}\n`));
      }
      const ready = {
        event: 'listening',
        host: broker.host,
        port: broker.port,
        url: broker.url,
        auditFile: broker.auditFile,
        auditTopic: AUDIT_TOPIC,
        strict: options.strict === true,
        pid: process.pid,
        ...(cluster && { node: cluster.nodeId, redis: cluster.redis }),
      };
      if (isBrokerWorker()) {
        reportListening(ready); // the primary speaks for all workers
      } else if (options.jsonReady) {
        process.stdout.write(`${JSON.stringify(ready)}\n`);
      } else {
        process.stdout.write(`listening on ${broker.url} (audit: ${broker.auditFile}; Ctrl-C stops)\n`);
      }
      const onStdinEnd = () => stopping?.('SIGTERM');
      let stopping: ((signal: NodeJS.Signals) => void) | undefined;
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          stopping = undefined;
          // Stop reading stdin: a pipe the parent keeps open would otherwise keep this process alive after the
          // broker closed (SIGTERM was ignored for as long as the parent lived).
          process.stdin.off('end', onStdinEnd).pause();
          process.stdin.destroy();
          process.off('SIGINT', stop).off('SIGTERM', stop);
          process.once(signal, () => process.exit(130)); // a second signal: do not wait any longer
          if (!options.jsonReady) process.stdout.write(`${signal}: closing clients, flushing the audit…\n`);
          void broker.close().then(resolve);
        };
        stopping = stop;
        process.once('SIGINT', stop).once('SIGTERM', stop);
        // A parent that dies without a word (SIGKILL) still closes our stdin pipe: never outlive it.
        if (options.stopWithParent) process.stdin.once('end', onStdinEnd).resume();
        if (isBrokerWorker()) process.once('disconnect', () => stop('SIGTERM')); // the primary is gone
      });
      if (!options.jsonReady) process.stdout.write('broker stopped\n');
      process.exitCode = 0;
    });
}
