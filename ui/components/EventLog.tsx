import { Box, Text } from 'ink';
import { memo } from 'react';
import { clock } from '../format.ts';
import { paint } from '../paint.ts';
import type { LogEntry } from '../store/types.ts';

export interface EventLogProps {
  /** The entries to show, oldest first: the caller has already filtered and windowed them. */
  readonly entries: readonly LogEntry[];
  readonly total: number;
  readonly offset: number;
  readonly height: number;
  readonly focused: boolean;
  readonly filter: string;
  /** Lines containing this are marked (the event-log search). */
  readonly search?: string;
}

const SOURCE_COLOR = { device: 'cyan', broker: 'magenta', ui: 'blue' } as const;
const LEVEL_COLOR = { info: undefined, warn: 'yellow', error: 'red' } as const;

/** One entry as one pre-coloured line (a search hit starts with ▶ instead of a space). */
export function logLineText(entry: LogEntry, hit: boolean): string {
  return `${hit ? '▶' : ''}${paint(clock(entry.at), 'gray')} ${paint(entry.source.padEnd(6), SOURCE_COLOR[entry.source])} ${paint(entry.text, LEVEL_COLOR[entry.level])}`;
}

const Line = memo(function Line({ entry, hit }: { entry: LogEntry; hit: boolean }) {
  return <Text wrap="truncate">{logLineText(entry, hit)}</Text>;
});

export function EventLog({ entries, total, offset, height, focused, filter, search = '' }: EventLogProps) {
  const where = offset > 0 ? `  ↑ ${offset} newer below` : '';
  const needle = search.toLowerCase();
  const searching = needle ? `  search "${search}" (n older, N newer)` : '';
  return (
    <Box
      flexDirection="column"
      height={height}
      borderStyle="round"
      borderColor={focused ? 'cyan' : undefined}
      overflowY="hidden"
    >
      <Text wrap="truncate" bold>
        {`Events (broker audit + devices) ${total}${filter ? ` matching "${filter}"` : ''}`}
        <Text color="gray">{`${where}${searching}`}</Text>
      </Text>
      {entries.map((entry) => (
        <Line
          key={entry.seq}
          entry={entry}
          hit={needle !== '' && entry.text.toLowerCase().includes(needle)}
        />
      ))}
    </Box>
  );
}

/** Lines of log the box can show: height minus borders and title. */
export function eventLogLines(height: number): number {
  return Math.max(1, height - 3);
}

/** The entries matching the filter (case-insensitive substring), and the window `offset` lines back from the newest. */
export function logWindow(log: readonly LogEntry[], filter: string, lines: number, offset: number) {
  const needle = filter.toLowerCase();
  const matching = needle ? log.filter((entry) => entry.text.toLowerCase().includes(needle)) : log;
  const end = Math.max(0, matching.length - offset);
  return { entries: matching.slice(Math.max(0, end - lines), end), total: matching.length, matching };
}

/**
 * Where the lines containing `search` are, as window offsets that put each at the bottom of the log box (lines
 * back from the newest), nearest first.
 */
export function searchOffsets(matching: readonly LogEntry[], search: string): number[] {
  const needle = search.toLowerCase();
  if (!needle) return [];
  const offsets: number[] = [];
  for (let index = matching.length - 1; index >= 0; index--) {
    if (matching[index]?.text.toLowerCase().includes(needle)) offsets.push(matching.length - 1 - index);
  }
  return offsets;
}
