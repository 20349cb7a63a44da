import { Box, Text } from 'ink';
import { clock } from '../format.ts';
import type { LogEntry } from '../store/types.ts';

export interface EventLogProps {
  /** The entries to show, oldest first: the caller has already filtered and windowed them. */
  readonly entries: readonly LogEntry[];
  readonly total: number;
  readonly offset: number;
  readonly height: number;
  readonly focused: boolean;
  readonly filter: string;
}

const SOURCE_COLOR = { device: 'cyan', broker: 'magenta', ui: 'blue' } as const;
const LEVEL_COLOR = { info: undefined, warn: 'yellow', error: 'red' } as const;

export function EventLog({ entries, total, offset, height, focused, filter }: EventLogProps) {
  const where = offset > 0 ? `  ↑ ${offset} newer below` : '';
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
        <Text color="gray">{where}</Text>
      </Text>
      {entries.map((entry) => (
        <Text key={entry.seq} wrap="truncate" color={LEVEL_COLOR[entry.level]}>
          <Text color="gray">{clock(entry.at)} </Text>
          <Text color={SOURCE_COLOR[entry.source]}>{entry.source.padEnd(6)}</Text>
          {` ${entry.text}`}
        </Text>
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
  return { entries: matching.slice(Math.max(0, end - lines), end), total: matching.length };
}
