import type { Command } from 'commander';

export function registerDevicesCommands(_program: Command): void {
  // Filled in by the devices work (issue 4).
}
