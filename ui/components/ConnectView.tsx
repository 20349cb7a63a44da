import { Box, Text } from 'ink';
import { type ConnectionInfo, mosquittoCommands } from '../connect-commands.ts';

export interface ConnectViewProps {
  readonly id: string;
  /** undefined while loading; null when the dashboard has no files for it (an external client). */
  readonly info?: ConnectionInfo | null;
  readonly height: number;
}

/**
 * The ready-to-run mosquitto_pub / mosquitto_sub commands for one device (`y`). No border: the lines can be copied
 * off the terminal exactly as they are (backslash continuations, one argument group per line).
 */
export function ConnectView({ id, info, height }: ConnectViewProps) {
  return (
    <Box flexDirection="column" height={height} overflowY="hidden">
      <Box flexDirection="column" flexShrink={0}>
        <Text bold>{`Connect as ${id} with Mosquitto's clients`}</Text>
        {info === undefined ? <Text color="gray">loading…</Text> : null}
        {info === null ? (
          <Text color="yellow">{`${id} was not started by this dashboard: its files are not known here.`}</Text>
        ) : null}
        {info
          ? mosquittoCommands(info, id).map(({ comment, lines }) => (
              <Box key={comment} flexDirection="column" marginTop={1}>
                <Text color="gray">{`# ${comment}`}</Text>
                {lines.map((line) => (
                  <Text key={line}>{line}</Text>
                ))}
              </Box>
            ))
          : null}
        {info ? (
          <Text color="gray" wrap="wrap">
            {`\n# The broker takes the client id from the certificate (CN ${info.clientId}) and keeps one session per id: pause the simulated device first (p), or the two replace each other. Pin the port with \`certfleet ui --port ${info.port}\`.`}
          </Text>
        ) : null}
        <Text color="gray">Press any key to close.</Text>
      </Box>
    </Box>
  );
}
