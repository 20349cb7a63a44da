import type { Command } from 'commander';

export function registerBrokerCommand(_program: Command): void {
  // Filled in by the broker work (issue 3).
}
