/** What a check expects, what it observed, and the verdict: the data behind the report card, --json and JUnit. */
import { UserError } from '../../core/user-error.ts';
import type { Reason } from '../../core/reasons.ts';
import type { LadderStepName } from '../events.ts';

/**
 * online / rejected: a connection. grant / deny: a publish or subscribe attempt. cut / kept: an open session after its
 * certificate was revoked. refused / admitted: a connection after the certificate expired.
 */
export type Outcome = 'online' | 'rejected' | 'grant' | 'deny' | 'cut' | 'kept' | 'refused' | 'admitted';

export interface Expectation {
  outcome: Outcome;
  /** Any of these reasons is as expected (absent: any reason). */
  reasons?: Reason[];
  step?: LadderStepName;
  /** For `cut`: the session must end within this time. */
  withinMs?: number;
}

export interface Observation {
  outcome: Outcome;
  reason?: string;
  step?: LadderStepName;
  /** Plain words: what happened, e.g. "CONNACK 0: the broker let it in". */
  detail: string;
  /** Where the reason came from when not from the client itself. */
  explainedBy?: 'broker-audit';
}

export type CheckGroup = 'device' | 'rogue' | 'behaviour';

export interface CheckResult {
  /** Unique, stable name: `device sensor-001`, `rogue expired`, `publish sensor-r01 → devices/sensor-001/telemetry`. */
  name: string;
  group: CheckGroup;
  /** The rogue kind, device profile or behaviour action. */
  kind: string;
  expected: Expectation;
  /** Absent when skipped. */
  observed?: Observation;
  status: 'pass' | 'fail' | 'skipped';
  /** Why it failed (the mismatch) or why it was skipped. */
  why?: string;
  durationMs: number;
}

export interface CheckReport {
  broker: string;
  scenario: string;
  /** Where the broker is expected to take the identity from (cn, san-dns, san-uri). */
  identityFrom: string;
  startedAt: string;
  durationMs: number;
  results: CheckResult[];
  totals: { checks: number; passed: number; failed: number; skipped: number };
  /** 0: every outcome as expected; 1: some outcome differs. (2 is a run that could not happen: no report.) */
  exitCode: 0 | 1;
}

/** The run itself could not happen (broker unreachable, not TLS, not MQTT, every handshake refused): exit code 2. */
export class CheckImpossible extends UserError {
  override readonly name = 'CheckImpossible';
  override readonly exitCode = 2;
}
