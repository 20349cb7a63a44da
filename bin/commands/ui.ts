import type { Command } from 'commander';
import { stateDirOf } from '../../cli.ts';

/**
 * `certfleet` with no subcommand (and `certfleet ui`) opens the dashboard. The UI is imported lazily so that the
 * other subcommands never load React and Ink.
 */
export function registerUiCommand(program: Command): void {
  const open = async (_options: unknown, command: Command) => {
    const { runDashboard } = await import('../../ui/index.ts');
    await runDashboard(stateDirOf(command));
  };
  program
    .command('ui')
    .description(
      'open the dashboard: PKI on first run, broker, a demo fleet, live handshakes (needs a terminal)',
    )
    .action(open);
  program.action(open);
}
