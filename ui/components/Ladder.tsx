import { Box, Text } from 'ink';
import { REASONS, type Reason } from '../../core/reasons.ts';
import {
  type HandshakeAttempt,
  LADDER_STEPS,
  type LadderStep,
  type LadderStepName,
  STEP_LABELS,
} from '../../core/ladder.ts';
import { stepStyle } from '../status-style.ts';

export interface LadderProps {
  readonly attempt?: HandshakeAttempt;
  /** When the device was rejected without (or before) reporting a ladder: where and why. */
  readonly failedStep?: LadderStepName;
  readonly reason?: Reason;
  readonly detail?: string;
  readonly width: number;
}

/**
 * The seven steps as the device saw them. Without a reported attempt but with a known failing step, the steps before
 * it are drawn as passed and those after it as skipped, so a rejection is always shown where it happened.
 */
export function ladderSteps(
  props: Pick<LadderProps, 'attempt' | 'failedStep' | 'reason' | 'detail'>,
): LadderStep[] {
  const steps = rawLadderSteps(props);
  // A step still pending below one that was decided has passed: with TLS 1.3 a client only learns that the server
  // accepted its certificate (step 5) from what comes after it.
  const lastDecided = steps.findLastIndex((step) => step.status === 'ok' || step.status === 'failed');
  return steps.map((step, index) =>
    index < lastDecided && step.status === 'pending' ? { ...step, status: 'ok' } : step,
  );
}

function rawLadderSteps(
  props: Pick<LadderProps, 'attempt' | 'failedStep' | 'reason' | 'detail'>,
): LadderStep[] {
  const reported = new Map(props.attempt?.steps.map((step) => [step.step, step]));
  const failedAt = props.failedStep ? LADDER_STEPS.indexOf(props.failedStep) : -1;
  const reportedFailure = props.attempt?.steps.some((step) => step.status === 'failed') ?? false;
  return LADDER_STEPS.map((name, index) => {
    const step = reported.get(name);
    if (step && (step.status !== 'pending' || reportedFailure || failedAt < 0)) {
      if (step.status === 'failed' && !step.reason && props.reason) return { ...step, reason: props.reason };
      return step;
    }
    if (failedAt >= 0 && !reportedFailure) {
      if (index < failedAt) return step ?? { step: name, status: 'ok' };
      if (index === failedAt)
        return { step: name, status: 'failed', reason: props.reason, detail: props.detail };
      return { step: name, status: 'skipped' };
    }
    return step ?? { step: name, status: 'pending' };
  });
}

export function Ladder(props: LadderProps) {
  const steps = ladderSteps(props);
  const labelWidth = Math.max(10, props.width - 14);
  return (
    <Box flexDirection="column">
      {steps.map((step, index) => {
        const style = stepStyle(step.status);
        const ms = step.ms === undefined ? '' : `${step.ms.toFixed(step.ms < 10 ? 1 : 0)} ms`;
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
