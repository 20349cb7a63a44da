import { type Command, Option } from 'commander';
import { parseRogueKinds } from '../../core/rogues.ts';
import { UserError } from '../../core/user-error.ts';
import { collectList, duration, stateDirOf, wholeNumber } from '../options.ts';

interface UiOptions {
  sensors?: number;
  rogue?: string[];
  interval?: number;
  port?: number;
  cluster?: number;
  redis?: string;
}

/**
 * `certfleet` with no subcommand (and `certfleet ui`) opens the dashboard. The UI is imported lazily so that the
 * other subcommands never load React and Ink.
 */
export function registerUiCommand(program: Command): void {
  const open = async (options: UiOptions, command: Command) => {
    // React's development build checks and warns on every render: several times slower. The dashboard is a product,
    // not a React development session (set NODE_ENV=development to get the checks back).
    process.env.NODE_ENV ??= 'production';
    // Ink renders only the last frame when CI is set; on a real terminal the user (or a tmux test under CI) wants
    // the live dashboard. Must happen before Ink is loaded: it reads CI once, at import.
    if (process.stdout.isTTY) delete process.env.CI;
    // NO_COLOR (no-color.org) asks for no colour; chalk, which Ink colours with, only knows FORCE_COLOR. The
    // selection keeps its › marker either way.
    if (process.env.NO_COLOR && process.env.FORCE_COLOR === undefined) process.env.FORCE_COLOR = '0';
    const rogues = options.rogue && parseRogueKinds(options.rogue);
    if (options.redis !== undefined && options.cluster === undefined)
      throw new UserError(
        'cannot use --redis without --cluster',
        'the dashboard runs one broker process, which needs no Redis',
        'Add --cluster N to start N broker nodes on that Redis.',
      );
    if (options.port !== undefined && options.cluster !== undefined)
      throw new UserError(
        'cannot use --port with --cluster',
        'each node of the local cluster listens on a free port of its own',
        'Drop --port: any node serves every device (press y on a device for ready-to-run commands).',
      );
    const { runDashboard } = await import('../../ui/index.ts');
    await runDashboard(stateDirOf(command), {
      sensors: options.sensors,
      rogues,
      intervalMs: options.interval,
      port: options.port,
      cluster: options.cluster,
      redis: options.redis,
    });
  };
  program
    .command('ui')
    .description(
      'open the dashboard: PKI on first run, broker, a demo fleet, live handshakes (needs a terminal)',
    )
    .option('--sensors <n>', 'demo sensors to start with (default 8)', wholeNumber('--sensors', 0, 10_000))
    .option(
      '--rogue <kind...>',
      'rogues to start with (default: revoked, clientid-spoof); repeat or comma-separate',
      collectList,
    )
    .addOption(
      new Option('--interval <duration>', 'telemetry interval of the demo sensors (default 2s)').argParser(
        duration('--interval'),
      ),
    )
    .option(
      '--port <n>',
      'the broker port (default: any free one), so mosquitto_pub commands (y) stay valid',
      wholeNumber('--port', 1, 65_535),
    )
    .option(
      '--cluster <n>',
      'a local cluster of N broker nodes on Redis instead of one broker; the devices are spread over the nodes',
      wholeNumber('--cluster', 1, 16),
    )
    .option(
      '--redis <url>',
      "with --cluster: the Redis the nodes use (redis://HOST:PORT); default: a redis-server of the dashboard's own",
    )
    .addHelpText(
      'after',
      `
Examples:
  $ certfleet                                   the dashboard with 8 sensors and 2 rogues
  $ certfleet ui --cluster 3                    three broker nodes on a redis-server of their own (node per device)
  $ certfleet ui --sensors 1000 --interval 5s   a thousand devices
  $ certfleet ui --rogue expired,unknown-cn     start with these rogues
  $ certfleet ui --port 8883                    the broker on a fixed port (press y on a device for its commands)
  $ NO_COLOR=1 certfleet                        no colours (the selection is marked with ›)`,
    )
    .action(open);
  program.action((_options, command: Command) => open({}, command));
}
