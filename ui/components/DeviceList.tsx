import { Box, Text } from 'ink';
import { memo } from 'react';
import { compactReading, fitText } from '../format.ts';
import { stateStyle } from '../status-style.ts';
import { sparkline } from '../store/sparkline.ts';
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
}

interface Columns {
  name: number;
  kind: number;
  state: number;
  reading: number;
  msgs: number;
  spark: number;
}

/** Column widths for the inner width; optional columns (trend, reading) go first when space is short. */
export function columnsFor(width: number): Columns {
  const name = 16;
  const kind = width >= 70 ? 15 : 12;
  const state = width >= 70 ? 18 : 12; // CLIENT_ID_MISMATCH, the longest reason a row shows, fits
  const msgs = 6;
  const spark = width >= 84 ? 8 : 0;
  const rest = width - 2 - (name + 1) - (kind + 1) - (state + 1) - (msgs + 1) - (spark > 0 ? spark + 1 : 0);
  return { name, kind, state, reading: rest >= 10 ? rest : 0, msgs, spark };
}

function line(
  columns: Columns,
  cells: { name: string; kind: string; reading: string; msgs: string; spark: string },
) {
  const reading = columns.reading > 0 ? ` ${fitText(cells.reading, columns.reading)}` : '';
  const spark = columns.spark > 0 ? ` ${fitText(cells.spark, columns.spark)}` : '';
  return {
    name: `${fitText(cells.name, columns.name)} `,
    kind: `${fitText(cells.kind, columns.kind)} `,
    tail: `${reading} ${cells.msgs.padStart(columns.msgs)}${spark}`,
  };
}

const Row = memo(function Row(props: { device: DeviceView; selected: boolean; columns: Columns }) {
  const { device, selected, columns } = props;
  const style = stateStyle(device.state, device.revoked);
  const label = device.state === 'rejected' && device.reason ? device.reason : style.label;
  const { name, kind, tail } = line(columns, {
    name: device.id,
    kind: device.kind,
    reading: compactReading(device.lastReading),
    msgs: String(device.messages),
    spark: sparkline(device.series, columns.spark),
  });
  return (
    <Text wrap="truncate" inverse={selected}>
      <Text color={style.color}>{`${style.symbol} `}</Text>
      {name}
      {/* Rogues' kinds stand out: they are the ones meant to fail. */}
      <Text color={device.rogue ? 'magenta' : undefined}>{kind}</Text>
      <Text color={style.color}>{fitText(label, columns.state)}</Text>
      {tail}
    </Text>
  );
});

export function DeviceList({
  rows,
  selected,
  first,
  total,
  height,
  width,
  focused,
  filter,
}: DeviceListProps) {
  const columns = columnsFor(width - 2);
  const heading = line(columns, {
    name: 'DEVICE',
    kind: 'KIND',
    reading: 'LAST READING',
    msgs: 'MSGS',
    spark: 'TREND',
  });
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
        {`  ${heading.name}${heading.kind}${fitText('STATE', columns.state)}${heading.tail}`}
      </Text>
      {rows.map((device, index) => (
        <Row key={device.id} device={device} selected={index === selected} columns={columns} />
      ))}
      {rows.length === 0 ? (
        <Text color="gray">
          {filter ? `no device matches "${filter}" (Esc clears)` : 'no devices yet: press a to add one'}
        </Text>
      ) : null}
      <Box flexGrow={1} />
      <Text wrap="truncate" color="gray">
        {`devices ${range}${filter ? `  filter "${filter}"` : ''}`}
      </Text>
    </Box>
  );
}

/** Rows of the list the window can show: the height minus borders, column header and position line. */
export function deviceListRows(height: number): number {
  return Math.max(1, height - 4);
}
