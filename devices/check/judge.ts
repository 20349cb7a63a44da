/** Expected vs observed → pass or fail, with the mismatch in words. */
import { LADDER_STEPS } from '../events.ts';
import type { CheckResult, Expectation, Observation } from './types.ts';

export function stepLabel(step: string | undefined): string {
  if (!step) return '';
  const number = LADDER_STEPS.indexOf(step as (typeof LADDER_STEPS)[number]) + 1;
  return number > 0 ? `step ${number} ${step}` : step;
}

export function judge(expected: Expectation, observed: Observation): Pick<CheckResult, 'status' | 'why'> {
  if (observed.outcome !== expected.outcome) {
    return { status: 'fail', why: `expected ${expected.outcome}, observed ${observed.outcome}` };
  }
  if (expected.reasons && !expected.reasons.includes(observed.reason as never)) {
    return {
      status: 'fail',
      why: `expected reason ${expected.reasons.join(' or ')}, observed ${observed.reason ?? 'none'}`,
    };
  }
  if (expected.step && observed.step !== expected.step) {
    return {
      status: 'fail',
      why: `expected at ${stepLabel(expected.step)}, observed at ${stepLabel(observed.step) || 'no step'}`,
    };
  }
  return { status: 'pass' };
}
