/**
 * The handshake ladder (DESIGN.md: the seed's seven steps), as one model shared by the devices (which record it),
 * the fleet (which places the broker's verdict on it), `devices run` and the dashboard (which draw it): the steps,
 * their labels and numbers, at which step each reason is decided, and what "failed at step N" means for the others.
 */
import type { Reason } from './reasons.ts';

export const LADDER_STEPS = [
  'tcp-connect', // 1. client connects (TCP)
  'server-certificate', // 2. server presents its certificate
  'server-verified', // 3. client verifies the server
  'client-certificate', // 4. client presents its certificate
  'client-verified', // 5. server verifies the client
  'access-granted', // 6. server grants access (CONNACK, policy)
  'messages-flow', // 7. messages flow (each publish/subscribe authorized)
] as const;
export type LadderStepName = (typeof LADDER_STEPS)[number];

/** Plain-words labels of the steps, as the seed names them. */
export const STEP_LABELS: Record<LadderStepName, string> = {
  'tcp-connect': 'client connects (TCP)',
  'server-certificate': 'server presents its certificate',
  'server-verified': 'client verifies the server',
  'client-certificate': 'client presents its certificate',
  'client-verified': 'server verifies the client',
  'access-granted': 'server grants access (CONNACK, policy)',
  'messages-flow': 'messages flow (each publish/subscribe authorized)',
};

/** 1-based position of a step on the ladder. */
export function stepNumber(step: LadderStepName): number {
  return LADDER_STEPS.indexOf(step) + 1;
}

/** "step 5 (server verifies the client)". */
export function describeStep(step: LadderStepName): string {
  return `step ${stepNumber(step)} (${STEP_LABELS[step]})`;
}

/** `skipped` = never ran (a failure came first, or nothing was connected): drawn as "not run". */
export type StepStatus = 'pending' | 'ok' | 'failed' | 'skipped';

export interface LadderStep {
  step: LadderStepName;
  status: StepStatus;
  /** Epoch ms when the step completed or failed. */
  at?: number;
  /** Duration of this step in ms. */
  ms?: number;
  /** At a failed step: the reason and the plain words to show. */
  reason?: Reason;
  detail?: string;
}

/** One connection attempt, as the device saw it. */
export interface HandshakeAttempt {
  attempt: number;
  startedAt: number;
  steps: LadderStep[];
  /** Local TCP port of the attempt: joins the device's view with the broker's audit record. */
  localPort?: number;
  tlsVersion?: string;
}

/** The ladder step where each reason is decided (by the broker, or by the client for steps 1–4). */
export function stepForReason(reason: Reason): LadderStepName {
  switch (reason) {
    case 'BROKER_UNREACHABLE':
    case 'BROKER_BUSY':
      return 'tcp-connect';
    case 'SERVER_UNTRUSTED':
    case 'HOSTNAME_MISMATCH':
      return 'server-verified';
    case 'NO_CERTIFICATE':
    case 'KEY_MISMATCH':
      return 'client-certificate';
    case 'UNKNOWN_CA':
    case 'SELF_SIGNED':
    case 'EXPIRED':
    case 'NOT_YET_VALID':
    case 'REVOKED':
    case 'WRONG_KEY_USAGE':
    case 'WEAK_SIGNATURE':
      return 'client-verified';
    case 'PUBLISH_DENIED':
    case 'SUBSCRIBE_DENIED':
    case 'SESSION_TAKEN_OVER': // an accepted session ended by another one: the step that worked until then
      return 'messages-flow';
    default:
      return 'access-granted';
  }
}

export function blankLadder(): LadderStep[] {
  return LADDER_STEPS.map((step) => ({ step, status: 'pending' }));
}

export interface StepFailure {
  step: LadderStepName;
  reason: Reason;
  detail: string;
  at?: number;
}

/**
 * The ladder once it failed at `failure.step`: that step failed, every later step never ran, and an earlier step
 * still pending passed if a connection was made (with TLS 1.3 a client only learns that step 5 passed from what
 * follows) — or never ran if nothing was connected (a key that does not fit its certificate fails before TCP).
 * A step that already failed is replaced: the broker's verdict moves the failure to where it was decided.
 */
export function failAt(steps: readonly LadderStep[], failure: StepFailure): LadderStep[] {
  const failedAt = LADDER_STEPS.indexOf(failure.step);
  const connected = steps[0]?.status === 'ok';
  const earlierFailure = steps.find((entry) => entry.status === 'failed');
  return steps.map((entry, index) => {
    if (index < failedAt) {
      if (entry.status === 'ok') return entry;
      return { step: entry.step, status: connected ? 'ok' : 'skipped' };
    }
    if (index === failedAt) {
      const at = failure.at ?? entry.at ?? earlierFailure?.at;
      return {
        ...entry,
        status: 'failed',
        reason: failure.reason,
        detail: failure.detail,
        ...(at !== undefined && { at }),
      };
    }
    return { step: entry.step, status: 'skipped' };
  });
}

/**
 * What to draw for a device: its reported attempt, or — when only the rejection is known (it came before any
 * ladder, or from the broker's audit alone) — the rejection placed on a ladder whose earlier steps the broker saw.
 */
export function ladderView(attempt: HandshakeAttempt | undefined, rejection?: StepFailure): LadderStep[] {
  const steps = attempt?.steps ?? blankLadder();
  const failed = steps.find((entry) => entry.status === 'failed');
  if (rejection && (failed?.step !== rejection.step || failed.reason !== rejection.reason)) {
    // Without a reported attempt the rejection came from the broker, which saw the connection being made.
    const seen: LadderStep[] = attempt
      ? steps
      : steps.map((entry, index) => (index === 0 ? { ...entry, status: 'ok' } : entry));
    return failAt(seen, rejection);
  }
  if (failed) {
    return failAt(steps, {
      step: failed.step,
      reason: failed.reason ?? 'PROTOCOL_ERROR',
      detail: failed.detail ?? '',
    });
  }
  // Still climbing: a pending step below a passed one passed too (TLS 1.3 confirms step 5 only by step 6).
  const lastOk = steps.findLastIndex((entry) => entry.status === 'ok');
  return steps.map((entry, index) =>
    index < lastOk && entry.status === 'pending' ? { ...entry, status: 'ok' } : entry,
  );
}
