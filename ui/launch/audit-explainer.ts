/**
 * Explains a device's rejection from the broker's audit feed the dashboard already receives over MQTT: the record of
 * the same TCP connection (its peer port is the device's local port) names what the device could not see. Same
 * rules as devices/explain.ts, from memory instead of re-reading the audit file on the UI thread.
 */
import { isReason, type Reason } from '../../core/reasons.ts';
import { stepForReason } from '../../core/ladder.ts';
import { type Explainer, REFUSALS, UNINFORMATIVE } from '../../devices/explain.ts';

const REMEMBERED = 5000;

interface Refusal {
  reason: Reason;
  detail?: string;
  topic?: string;
}

export class AuditExplainer {
  private readonly byPort = new Map<number, Refusal>();
  private readonly waiting = new Map<number, (refusal: Refusal) => void>();

  /** Feed every audit payload here. */
  observe(payload: string): void {
    let record: {
      event?: string;
      reason?: unknown;
      peer?: { port?: unknown };
      detail?: string;
      topic?: string;
    };
    try {
      record = JSON.parse(payload);
    } catch {
      return;
    }
    const port = record.peer?.port;
    if (typeof port !== 'number' || !REFUSALS.has(record.event ?? '')) return;
    if (!isReason(record.reason) || UNINFORMATIVE.has(record.reason)) return;
    const refusal: Refusal = { reason: record.reason, detail: record.detail, topic: record.topic };
    this.byPort.set(port, refusal);
    if (this.byPort.size > REMEMBERED) this.byPort.delete(this.byPort.keys().next().value as number);
    this.waiting.get(port)?.(refusal);
  }

  explainer(waitMs = 3000): Explainer {
    return async (rejection) => {
      const port = rejection.localPort;
      if (port === undefined) return undefined;
      const refusal =
        this.byPort.get(port) ??
        (await new Promise<Refusal | undefined>((resolve) => {
          const timer = setTimeout(() => {
            this.waiting.delete(port);
            resolve(undefined);
          }, waitMs);
          this.waiting.set(port, (found) => {
            clearTimeout(timer);
            this.waiting.delete(port);
            resolve(found);
          });
        }));
      if (!refusal) return undefined;
      const words = [refusal.detail, refusal.topic && `topic "${refusal.topic}"`].filter(Boolean).join('; ');
      return {
        reason: refusal.reason,
        step: stepForReason(refusal.reason),
        detail: `the broker audit says ${refusal.reason}${words ? ` (${words})` : ''}`,
      };
    };
  }
}

/** Asks each explainer in turn until one knows. */
export function firstExplanation(...explainers: Explainer[]): Explainer {
  return async (rejection) => {
    for (const explain of explainers) {
      const explanation = await explain(rejection).catch(() => undefined);
      if (explanation) return explanation;
    }
    return undefined;
  };
}
