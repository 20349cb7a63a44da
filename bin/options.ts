/**
 * The option parsers every command shares, so `--count`, `--port`, `--duration`… are checked and explained the
 * same way everywhere, and the state directory is resolved (and checked) in one place.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { parseDuration } from '../core/duration.ts';
import { checkStateDir } from './state-dir.ts';

/** A commander option parser for a whole number in [min, max]; anything else is a usage error naming the option. */
export function wholeNumber(name: string, min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max} (got '${value}')`);
    }
    return parsed;
  };
}

/** A commander option parser for `30s`, `2m`, `500ms`, `1h` or bare seconds → milliseconds. */
export function duration(name: string): (value: string) => number {
  return (value: string): number => parseDuration(value, name);
}

/** For repeatable, comma-separated list options: `--rogue a --rogue b,c` → [a, b, c]. */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter(Boolean)];
}

/**
 * The state dir for a command: --state-dir, then CERTFLEET_HOME, then ./.certfleet. Always absolute, and checked
 * before any command touches it (see state-dir.ts), so a bad one is one clear line instead of a stack or a spin.
 */
export function stateDirOf(command: Command): string {
  const options = command.optsWithGlobals<{ stateDir?: string }>();
  const stateDir = resolve(options.stateDir ?? process.env.CERTFLEET_HOME ?? '.certfleet');
  checkStateDir(stateDir);
  return stateDir;
}
