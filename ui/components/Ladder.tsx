import { Box, Text } from 'ink';
import { REASONS, type Reason } from '../../core/reasons.ts';
import { type HandshakeAttempt, ladderView, type LadderStepName, STEP_LABELS } from '../../core/ladder.ts';
import { stepStyle } from '../status-style.ts';

export interface LadderProps {
  readonly attempt?: HandshakeAttempt;
  /** Where and why the device was rejected (the final verdict: it wins over what the attempt recorded). */
  readonly failedStep?: LadderStepName;
  readonly reason?: Reason;
  readonly detail?: string;
  readonly width: number;
}

/** The seven steps as the device saw them, with the broker's verdict in place (core/ladder.ts decides which ran). */
export function Ladder(props: LadderProps) {
  const rejection =
    props.failedStep && props.reason
      ? { step: props.failedStep, reason: props.reason, detail: props.detail ?? '' }
      : undefined;
  const steps = ladderView(props.attempt, rejection);
  const labelWidth = Math.max(10, props.width - 14);
  return (
    <Box flexDirection="column">
      {steps.map((step, index) => {
        const style = stepStyle(step.status);
        const ms =
          step.status === 'skipped'
            ? 'not run'
            : step.ms === undefined
              ? ''
              : `${step.ms.toFixed(step.ms < 10 ? 1 : 0)} ms`;
        const label = `${index + 1} ${STEP_LABELS[step.step]}`;
        return (
          <Box key={step.step} flexDirection="column">
            <Text wrap="truncate">
              <Text color={style.color}>{` ${style.symbol} `}</Text>
              <Text color={step.status === 'failed' ? 'red' : undefined}>
                {label.length > labelWidth ? `${label.slice(0, labelWidth - 1)}…` : label.padEnd(labelWidth)}
              </Text>
              <Text color="gray">{ms.padStart(9)}</Text>
            </Text>
            {step.status === 'failed' && step.reason ? (
              <Box paddingLeft={5}>
                <Text color="red">{`↳ ${step.reason}: ${REASONS[step.reason]}`}</Text>
              </Box>
            ) : null}
            {step.status === 'failed' && step.detail ? (
              <Box paddingLeft={7}>
                <Text color="gray">{step.detail}</Text>
              </Box>
            ) : null}
          </Box>
        );
      })}
    </Box>
  );
}
