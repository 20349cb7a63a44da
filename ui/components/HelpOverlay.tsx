import { Box, Text } from 'ink';

export interface HelpOverlayProps {
  readonly height: number;
}

const LINES: readonly [string, string][] = [
  ['Enter / Esc', 'open the selected device on the whole screen (ladder, certificate, messages) / back'],
  ['a', 'add devices: pick a sensor profile; type digits first for several (a 2 5 Enter adds 25)'],
  ['r', 'add a rogue device: pick a kind, it is selected: watch where the handshake refuses it'],
  ['x', "revoke the selected device's certificate (asks first): the broker cuts its session live"],
  ['c', 'send a command: ping, reboot, set-interval 2s (or 500ms; a bare number is seconds)'],
  ['p', 'pause / resume the selected device (only a running one)'],
  ['d', 'remove the selected device (asks first)'],
  ['y', 'the mosquitto_pub / mosquitto_sub commands to connect as the selected device'],
  ['n', 'jump to the next rejected device (in the event log: the next search match; N the newer)'],
  ['s', 'sort the list: as added → state → name → messages → last seen'],
  ['/', 'filter the device list and the log (Esc clears); with the log focused: search it'],
  ['↑ ↓  j k  g G', 'move the selection (or scroll the log when it has focus)'],
  ['PgUp PgDn Home End', 'move by a page / to the first or last'],
  ['Tab', 'switch focus between the device list and the event log'],
  ['prompts', 'Ctrl-A/E start/end, Ctrl-U/K delete to start/end, Ctrl-W word, ← →; ↑ ↓ Tab: commands'],
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
          Symbols: ● online … connecting ↻ retrying ‖ paused ✗ rejected ■ stopped › selected
        </Text>
        <Text wrap="truncate" color="gray">
          Kind "external": a client the dashboard did not start (mosquitto_pub…), seen in the broker audit
        </Text>
        <Text color="gray">Press any key to close.</Text>
      </Box>
    </Box>
  );
}
