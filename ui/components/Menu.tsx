import { Box, Text } from 'ink';
import type { MenuItem } from '../catalogue.ts';
import { scrollTop } from '../store/window.ts';

export interface MenuProps {
  readonly title: string;
  readonly items: readonly MenuItem[];
  readonly index: number;
  readonly height: number;
}

/** A vertical pick list; windowed like the device list when it is taller than the space it has. */
export function Menu({ title, items, index, height }: MenuProps) {
  const rows = Math.max(1, height - 3);
  const top = scrollTop(index - Math.floor(rows / 2), index, rows, items.length);
  return (
    <Box
      flexDirection="column"
      height={height}
      borderStyle="round"
      borderColor="cyan"
      paddingX={1}
      overflowY="hidden"
    >
      <Text bold>{title}</Text>
      {items.slice(top, top + rows).map((item, offset) => {
        const selected = top + offset === index;
        return (
          <Text key={item.value} wrap="truncate" inverse={selected}>
            <Text bold>{`${selected ? '›' : ' '} ${item.value.padEnd(16)}`}</Text>
            <Text color={selected ? undefined : 'gray'}>{item.description}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
