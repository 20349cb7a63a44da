/**
 * The one `certfleet` command. Each subcommand lives in bin/commands/ and calls into pki/, broker/, devices/, ui/.
 */
import { Command, CommanderError } from 'commander';
import { resolve } from 'node:path';
import { isUserError } from './core/user-error.ts';
import { registerPkiCommands } from './bin/commands/pki.ts';
import { registerBrokerCommand } from './bin/commands/broker.ts';
import { registerDevicesCommands } from './bin/commands/devices.ts';
import { registerUiCommand } from './bin/commands/ui.ts';

export interface GlobalOptions {
  stateDir: string;
}

export function buildProgram(): Command {
  const program = new Command('certfleet')
    .description('MQTT IoT device simulator with a mutual-TLS broker')
    .option('--state-dir <dir>', 'where certificates, policy and audit live (env CERTFLEET_HOME)')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ certfleet                                   open the dashboard (creates the PKI on first run)
  $ certfleet pki init                          create the CAs, the broker and dashboard identities
  $ certfleet pki issue sensor-001 sensor-002   issue device certificates
  $ certfleet broker --port 8883                run the mTLS broker on its own
  $ certfleet devices run --count 20 --rogue expired --duration 30s`,
    );
  registerPkiCommands(program);
  registerBrokerCommand(program);
  registerDevicesCommands(program);
  registerUiCommand(program);
  return program;
}

/** The state dir for a command: --state-dir, then CERTFLEET_HOME, then ./.certfleet. Always absolute. */
export function stateDirOf(command: Command): string {
  const options = command.optsWithGlobals<{ stateDir?: string }>();
  return resolve(options.stateDir ?? process.env.CERTFLEET_HOME ?? '.certfleet');
}

export async function main(argv: string[]): Promise<void> {
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
      process.exitCode = 1;
      return;
    }
    process.stderr.write(
      `certfleet: internal error (this is a bug):\n${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exitCode = 70;
  }
}
