/**
 * Colour for text the dashboard pre-renders into one string (a device row, a log line): one Ink Text per line
 * instead of a tree of nested ones is what keeps a frame cheap. chalk is the library Ink itself colours with, so
 * FORCE_COLOR=0 (and NO_COLOR, which the launcher turns into it) switch both off together.
 */
import chalk from 'chalk';

export type Colour = 'green' | 'red' | 'yellow' | 'gray' | 'blue' | 'magenta' | 'cyan';

export function paint(text: string, colour?: Colour | string): string {
  if (!colour || chalk.level === 0) return text;
  const style = (chalk as unknown as Record<string, ((s: string) => string) | undefined>)[colour];
  return style ? style(text) : text;
}

export function inverse(text: string): string {
  return chalk.level === 0 ? text : chalk.inverse(text);
}

export function bold(text: string): string {
  return chalk.level === 0 ? text : chalk.bold(text);
}

/** Colours are on: the selection also shows as reverse video (the › marker is there either way). */
export function coloursOn(): boolean {
  return chalk.level > 0;
}
