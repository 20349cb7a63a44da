import { Text } from 'ink';
import { REASONS } from '../../core/reasons.ts';
import { compactReading } from '../format.ts';
import { describeStep } from '../../core/ladder.ts';
import { lifetimeStyle } from '../lifetime-style.ts';
import { stateStyle } from '../status-style.ts';
import type { DeviceView } from '../store/types.ts';

export interface SelectionSummaryProps {
  readonly device?: DeviceView;
  /** The clock the certificate's remaining lifetime counts from. */
  readonly now?: number;
}

/**
 * Two lines under the list on small terminals, where the detail is a separate screen: the selected device's state
 * and, if it was rejected, where and why — so the reason is on the first screen, before anyone presses Enter.
 */
export function SelectionSummary({ device, now = Date.now() }: SelectionSummaryProps) {
  if (!device) return <Text color="gray">{'\n'}</Text>;
  const style = stateStyle(device.state, device.revoked);
  const kind = device.external ? 'external client' : device.rogue ? `rogue ${device.kind}` : device.kind;
  const where =
    device.state === 'rejected' && device.failedStep ? ` at ${describeStep(device.failedStep)}` : '';
  const second =
    device.reason && device.reason !== 'OK' && device.state !== 'online'
      ? {
          text: `↳ ${device.reason}: ${REASONS[device.reason]}`,
          color: device.state === 'rejected' ? 'red' : 'yellow',
        }
      : {
          text: device.lastReading
            ? `  ${device.messages} msgs, last ${compactReading(device.lastReading, 3)}`
            : `  ${device.messages} msgs`,
          color: undefined,
        };
  const life = device.certificate ? lifetimeStyle(device.certificate, now) : undefined;
  return (
    <>
      <Text wrap="truncate">
        <Text bold>{` ${device.id}`}</Text>
        {`  ${kind}  `}
        <Text color={style.color}>{`${style.symbol} ${style.label}${where}`}</Text>
        {life ? (
          <>
            {'  cert '}
            <Text color={life.color}>{life.text}</Text>
            {life.text === 'expired' ? '' : ' left'}
          </>
        ) : null}
      </Text>
      <Text wrap="truncate" color={second.color}>
        {` ${second.text}`}
      </Text>
    </>
  );
}
