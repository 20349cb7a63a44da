import type { Reason } from '../core/reasons.ts';
import { type HandshakeAttempt, LADDER_STEPS, type LadderStep, type LadderStepName } from '../core/ladder.ts';

/**
 * Records one connection attempt's walk up the seven-step ladder: when each step completed and how long it took
 * (from the previous completed step, or from the start of the attempt).
 */
export class AttemptRecorder {
  private readonly steps: LadderStep[] = LADDER_STEPS.map((step) => ({ step, status: 'pending' }));
  private lastAt: number;
  localPort?: number;
  tlsVersion?: string;

  constructor(
    readonly attempt: number,
    readonly startedAt: number = Date.now(),
  ) {
    this.lastAt = startedAt;
  }

  ok(step: LadderStepName, at: number = Date.now()): void {
    this.set(step, { status: 'ok', at });
  }

  fail(step: LadderStepName, reason: Reason, detail: string, at: number = Date.now()): void {
    this.set(step, { status: 'failed', at, reason, detail });
    // Steps after a failure were never reached; without a connection, neither were the ones before it (a key that
    // does not fit its certificate fails before the first byte is sent).
    const connected = this.statusOf('tcp-connect') === 'ok';
    this.steps.forEach((entry, index) => {
      const later = index > LADDER_STEPS.indexOf(step);
      if (entry.status === 'pending' && (later || !connected)) entry.status = 'skipped';
    });
  }

  statusOf(step: LadderStepName): LadderStep['status'] {
    return this.steps[LADDER_STEPS.indexOf(step)]?.status ?? 'pending';
  }

  /** The first step still pending: where an unexplained failure happened. */
  firstPending(): LadderStepName {
    return this.steps.find((entry) => entry.status === 'pending')?.step ?? 'messages-flow';
  }

  snapshot(): HandshakeAttempt {
    return {
      attempt: this.attempt,
      startedAt: this.startedAt,
      steps: this.steps.map((entry) => ({ ...entry })),
      ...(this.localPort !== undefined && { localPort: this.localPort }),
      ...(this.tlsVersion !== undefined && { tlsVersion: this.tlsVersion }),
    };
  }

  private set(step: LadderStepName, update: Omit<LadderStep, 'step'>): void {
    const entry = this.steps[LADDER_STEPS.indexOf(step)];
    // A step is decided once; only "messages flow" can fail after it worked (a later publish is denied).
    if (!entry || entry.status === 'failed') return;
    if (entry.status === 'ok' && !(update.status === 'failed' && step === 'messages-flow')) return;
    const at = update.at ?? Date.now();
    Object.assign(entry, update, { ms: Math.max(0, at - this.lastAt) });
    this.lastAt = at;
  }
}
