import { type Command, Option } from 'commander';
import { UserError } from '../../core/user-error.ts';
import { parseValidity } from '../../core/validity.ts';
import type { BrokerAddress } from '../../devices/index.ts';
import { ROGUE_KINDS } from '../../core/rogues.ts';
import { collectList, duration, stateDirOf, wholeNumber } from '../options.ts';
import type { RunOptions } from './devices-run.ts';

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
      // The fleet, the embedded broker and the cluster are loaded only when devices run (devices-run.ts): every
      // other command starts without them.
      const { runDevices } = await import('./devices-run.ts');
      await runDevices(stateDirOf(command), options);
    });
}
