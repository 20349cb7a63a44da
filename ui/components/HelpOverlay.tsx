import { Box, Text } from 'ink';

export interface HelpOverlayProps {
  readonly height: number;
}

const LINES: readonly [string, string][] = [
  ['a', 'add a device: pick a sensor profile'],
  ['r', 'add a rogue device: pick a kind and watch where the handshake refuses it'],
  ['x', "revoke the selected device's certificate: the broker cuts its session live"],
  ['c', 'send a command to the selected device (e.g. reboot, set-interval 2)'],
  ['p', 'pause / resume the selected device'],
  ['d', 'remove the selected device'],
  ['/', 'filter the device list and the event log (Esc clears)'],
  ['↑ ↓  j k', 'move the selection (or scroll the log when it has focus)'],
  ['PgUp PgDn Home End', 'move by a page / to the first or last'],
  ['Tab', 'switch focus between the device list and the event log'],
  ['?', 'this help'],
  ['q  Ctrl-C', 'quit: stops the broker, the fleet and every worker'],
];

export function HelpOverlay({ height }: HelpOverlayProps) {
  return (
    <Box
      flexDirection="column"
      height={height}
      borderStyle="double"
      borderColor="cyan"
      paddingX={1}
      overflowY="hidden"
    >
      <Box flexDirection="column" flexShrink={0}>
        <Text bold>certfleet help — see mutual TLS work, device by device</Text>
        <Text color="gray">
          Each device proves who it is with its own certificate; the broker proves who it is too.
        </Text>
        <Text color="gray">
          The ladder in the detail pane shows the seven steps of the handshake and where a device fails.
        </Text>
        {LINES.map(([keys, text]) => (
          <Text key={keys} wrap="truncate">
            <Text bold color="cyan">
              {keys.padEnd(20)}
            </Text>
            {text}
          </Text>
        ))}
        <Text wrap="truncate" color="gray">
          Symbols: ● online … connecting ↻ retrying ‖ paused ✗ rejected ■ stopped
        </Text>
        <Text color="gray">Press any key to close.</Text>
      </Box>
    </Box>
  );
}
