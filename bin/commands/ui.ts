import type { Command } from 'commander';

export function registerUiCommand(_program: Command): void {
  // Filled in by the UI work (issue 5).
}
