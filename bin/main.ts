/**
 * The one `certfleet` program: global options, help, version, error handling. Each subcommand lives in
 * bin/commands/ and calls into pki/, broker/, devices/, ui/. Only the entry (bin/certfleet.js) imports this file.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { isUserError } from '../core/user-error.ts';
import { registerPkiCommands } from './commands/pki.ts';
import { registerBrokerCommand } from './commands/broker.ts';
import { registerDevicesCommands } from './commands/devices.ts';
import { registerUiCommand } from './commands/ui.ts';
import { registerCheckCommand } from './commands/check.ts';
import { closestName } from './suggest.ts';

function packageVersion(): string {
  const file = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('certfleet')
    .description('MQTT IoT device simulator with a mutual-TLS broker')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--state-dir <dir>', 'where certificates, policy and audit live (env CERTFLEET_HOME)')
    .helpCommand('help [command]', 'show help for a command')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      // One style for every error the user can fix: `ERROR: …`, like the UserErrors below.
      outputError: (text, write) => write(text.replace(/^error: /, 'ERROR: ')),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ certfleet                                   open the dashboard (creates the PKI on first run)
  $ certfleet pki init                          create the CAs, the broker and dashboard identities
  $ certfleet pki issue sensor-001 sensor-002   issue device certificates
  $ certfleet broker --port 8883                run the mTLS broker on its own
  $ certfleet devices run --count 20 --rogue expired --duration 30s
  $ certfleet check --broker mqtts://localhost:8883 --junit check.xml   test a broker's mTLS/ACL set-up
  $ certfleet help devices                      help for one command`,
    );
  registerPkiCommands(program);
  registerBrokerCommand(program);
  registerDevicesCommands(program);
  registerCheckCommand(program);
  registerUiCommand(program);
  // `certfleet` alone opens the dashboard (registered by the ui command), so commander would call a typo "too many
  // arguments": say what it is instead.
  program.allowExcessArguments().hook('preAction', (_program, action) => {
    if (action !== program || program.args.length === 0) return;
    const name = program.args[0]!;
    const names = program.commands.map((command) => command.name());
    const guess = closestName(name, names);
    program.error(
      `error: unknown command '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}; commands: ${names.join(', ')}`,
      { code: 'commander.unknownCommand', exitCode: 1 },
    );
  });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `certfleet pki list | head`: the reader is gone, so is our job — not an unhandled EPIPE with a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(process.exitCode ?? 0);
    });
  }
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (isUserError(error)) {
      process.stderr.write(`${error.format()}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(
      `certfleet: internal error (this is a bug):\n${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exitCode = 70;
  }
}
