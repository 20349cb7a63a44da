import { Box, Text } from 'ink';
import { memo } from 'react';
import { compactReading, fitText } from '../format.ts';
import { lifetimeStyle } from '../lifetime-style.ts';
import { inverse, paint } from '../paint.ts';
import { stateStyle } from '../status-style.ts';
import { sparkline } from '../store/sparkline.ts';
import type { SortKey } from '../store/sort.ts';
import type { DeviceView } from '../store/types.ts';

export interface DeviceListProps {
  /** Only the rows in the window: the caller slices, so thousands of devices cost one screen of rows. */
  readonly rows: readonly DeviceView[];
  /** Index (within rows) of the selected device, or -1. */
  readonly selected: number;
  /** Position of the window: rows [first, first + rows.length) of total. */
  readonly first: number;
  readonly total: number;
  readonly height: number;
  readonly width: number;
  readonly focused: boolean;
  readonly filter: string;
  readonly sort?: SortKey;
  /** The clock the certificates' remaining lifetimes count from (a test fixes it). */
  readonly now?: number;
}

interface Columns {
  name: number;
  kind: number;
  state: number;
  reading: number;
  msgs: number;
  spark: number;
}

const columnsCache = new Map<number, Columns>();

/**
 * Column widths for the inner width; optional columns (trend, reading) go first when space is short. The same
 * object for the same width, so memoized rows stay memoized.
 */
export function columnsFor(width: number): Columns {
  let columns = columnsCache.get(width);
  if (!columns) {
    columns = computeColumns(width);
    columnsCache.set(width, columns);
  }
  return columns;
}

function computeColumns(width: number): Columns {
  const name = 16;
  const kind = width >= 70 ? 15 : 12;
  const state = width >= 70 ? 18 : 12; // CLIENT_ID_MISMATCH, the longest reason a row shows, fits
  const msgs = 6;
  const spark = width >= 84 ? 8 : 0;
  // 3: the selection marker, the state symbol and a space.
  const rest = width - 3 - (name + 1) - (kind + 1) - (state + 1) - (msgs + 1) - (spark > 0 ? spark + 1 : 0);
  return { name, kind, state, reading: rest >= 10 ? rest : 0, msgs, spark };
}

function tail(columns: Columns, reading: string, msgs: string, spark: string): string {
  const readingCell = columns.reading > 0 ? ` ${fitText(reading, columns.reading)}` : '';
  const sparkCell = columns.spark > 0 ? ` ${fitText(spark, columns.spark)}` : '';
  return `${readingCell} ${msgs.padStart(columns.msgs)}${sparkCell}`;
}

/** What the state column says: the reason of a rejection, "external" clients' state, else the state. */
function stateLabel(device: DeviceView): string {
  const style = stateStyle(device.state, device.revoked);
  return device.state === 'rejected' && device.reason ? device.reason : style.label;
}

/**
 * The state column: the state, then the certificate's remaining lifetime (coloured as expiry nears) when the device
 * is not rejected and it fits — `online cert 45s`, or `online 45s` in a narrow column.
 */
function stateCell(device: DeviceView, width: number, colour: string, now: number): string {
  const label = stateLabel(device);
  if (device.certificate && device.state !== 'rejected') {
    const life = lifetimeStyle(device.certificate, now);
    for (const prefix of [`${label} cert `, `${label} `]) {
      const used = prefix.length + life.text.length;
      if (used <= width)
        return `${paint(prefix, colour)}${paint(life.text, life.color)}${' '.repeat(width - used)}`;
    }
  }
  return paint(fitText(label, width), colour);
}

/**
 * One device as one pre-coloured line: `›` marks the selection whatever the colour support (NO_COLOR,
 * FORCE_COLOR=0), reverse video adds to it when colours are on.
 */
export function deviceRowText(
  device: DeviceView,
  selected: boolean,
  columns: Columns,
  now = Date.now(),
): string {
  const style = stateStyle(device.state, device.revoked);
  const kindColour = device.external ? 'cyan' : device.rogue ? 'magenta' : undefined;
  const line = [
    selected ? '›' : ' ',
    paint(style.symbol, style.color),
    ' ',
    fitText(device.id, columns.name),
    ' ',
    // Rogues' kinds stand out (they are the ones meant to fail); so do clients the dashboard did not start.
    paint(fitText(device.external ? 'external' : device.kind, columns.kind), kindColour),
    ' ',
    stateCell(device, columns.state, style.color, now),
    tail(
      columns,
      compactReading(device.lastReading),
      String(device.messages),
      sparkline(device.series, columns.spark),
    ),
  ].join('');
  return selected ? inverse(line) : line;
}

const Row = memo(function Row(props: {
  device: DeviceView;
  selected: boolean;
  columns: Columns;
  now: number;
}) {
  return <Text wrap="truncate">{deviceRowText(props.device, props.selected, props.columns, props.now)}</Text>;
});

const SORT_WORDS: Record<SortKey, string> = {
  added: '',
  state: '  sorted by state',
  name: '  sorted by name',
  messages: '  sorted by messages',
  'last-seen': '  sorted by last seen',
};

export function DeviceList({
  rows,
  selected,
  first,
  total,
  height,
  width,
  focused,
  filter,
  sort = 'added',
  now = Date.now(),
}: DeviceListProps) {
  const columns = columnsFor(width - 2);
  const heading = `   ${fitText('DEVICE', columns.name)} ${fitText('KIND', columns.kind)} ${fitText('STATE', columns.state)}${tail(columns, 'LAST READING', 'MSGS', 'TREND')}`;
  const range = total === 0 ? '0' : `${first + 1}–${first + rows.length} of ${total}`;
  return (
    <Box
      flexDirection="column"
      width={width}
      height={height}
      borderStyle="round"
      borderColor={focused ? 'cyan' : undefined}
      overflowY="hidden"
    >
      <Text wrap="truncate" bold>
        {heading}
      </Text>
      {rows.map((device, index) => (
        <Row
          key={device.id}
          device={device}
          selected={index === selected}
          columns={columns}
          // Only rows with a lifetime to count down repaint with the clock; the others stay memoized.
          now={device.certificate ? now : 0}
        />
      ))}
      {rows.length === 0 ? (
        <Text color="gray">
          {filter ? `no device matches "${filter}" (Esc clears)` : 'no devices yet: press a to add some'}
        </Text>
      ) : null}
      <Box flexGrow={1} />
      <Text wrap="truncate" color="gray">
        {`devices ${range}${filter ? `  filter "${filter}"` : ''}${SORT_WORDS[sort]}`}
      </Text>
    </Box>
  );
}

/** Rows of the list the window can show: the height minus borders, column header and position line. */
export function deviceListRows(height: number): number {
  return Math.max(1, height - 4);
}
