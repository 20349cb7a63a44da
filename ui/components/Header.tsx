import { Box, Text } from 'ink';
import { duration, shortFingerprint } from '../format.ts';
import type { BrokerInfo, Counts } from '../store/types.ts';

export interface HeaderProps {
  readonly broker?: BrokerInfo;
  readonly counts: Counts;
  readonly messagesPerSecond: number;
  readonly now: number;
}

/** Two lines: where the broker is and how it is secured; then how the fleet is doing. */
export function Header({ broker, counts, messagesPerSecond, now }: HeaderProps) {
  const address = broker ? `mqtts://${broker.host}:${broker.port}` : 'starting…';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold color="cyan">
          certfleet
        </Text>
        {'  broker '}
        <Text bold>{address}</Text>
        {`  TLS ${broker?.tlsVersions ?? '1.2–1.3'}  mutual auth`}
        {'  CA SHA256 '}
        <Text>{shortFingerprint(broker?.caFingerprint)}</Text>
        {`  up ${broker ? duration(now - broker.startedAt) : '--:--:--'}`}
      </Text>
      <Text wrap="truncate">
        {`devices ${counts.total}  `}
        <Text color="green">{`● online ${counts.online}`}</Text>
        {'  '}
        <Text color="red">{`✗ rejected ${counts.rejected}`}</Text>
        {`  msgs/s ${messagesPerSecond.toFixed(1)}`}
        {broker?.down ? <Text color="red" bold>{`  BROKER DOWN: ${broker.down}`}</Text> : null}
      </Text>
    </Box>
  );
}
