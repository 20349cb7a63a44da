/**
 * Joins a device's rejection with the broker's side. The device knows its local port; the broker's audit record of
 * the same TCP connection (peer.port) names the reason a client cannot see (e.g. an expired certificate refused
 * after a TLS 1.3 handshake, or which rule behind CONNACK "not authorized").
 */
import { open } from 'node:fs/promises';
import { isReason, type Reason } from '../core/reasons.ts';
import { type HandshakeAttempt, LADDER_STEPS, type LadderStepName, stepForReason } from '../core/ladder.ts';
import type { DeviceEvent } from './events.ts';

export interface Explanation {
  reason: Reason;
  step: LadderStepName;
  detail: string;
}

export type Explainer = (
  rejection: Extract<DeviceEvent, { type: 'rejected' }>,
) => Promise<Explanation | undefined>;

/** Audit events that carry a refusal of the connection (broker/audit-record.ts). */
export const REFUSALS = new Set([
  'handshake-refused',
  'connect-refused',
  'publish-denied',
  'subscribe-denied',
  'disconnected',
]);
/** Reasons a device already knows better, or that do not explain anything. */
export const UNINFORMATIVE = new Set(['OK', 'CLIENT_CLOSED']);

export interface AuditLine {
  ts?: string;
  event?: string;
  reason?: string;
  peer?: { port?: number };
  detail?: string;
  topic?: string;
}

/**
 * An explainer reading the broker's audit file (`<stateDir>/audit.jsonl`), shared by our embedded broker and
 * `certfleet broker` on the same state dir. It waits briefly for the record: the broker writes it asynchronously.
 */
export function auditFileExplainer(auditPath: string, options: { waitMs?: number } = {}): Explainer {
  return async (rejection) => {
    const deadline = Date.now() + (options.waitMs ?? 3_000);
    const since = rejection.at - 60_000;
    for (;;) {
      const record = findRefusal(await readTail(auditPath), rejection.localPort, since);
      if (record) return toExplanation(record);
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
}

/**
 * An explainer fed live audit records (e.g. `broker.on('audit', …)` of an embedded broker, or the audit topic):
 * keeps the recent refusals by peer port and waits briefly for the one of the rejected connection.
 */
export function auditFeedExplainer(
  subscribe: (listener: (record: AuditLine) => void) => () => void,
  options: { waitMs?: number; keep?: number } = {},
): Explainer & { close: () => void } {
  const byPort = new Map<number, AuditLine>();
  const waiters = new Map<number, () => void>();
  const keep = options.keep ?? 10_000;
  const unsubscribe = subscribe((record) => {
    const port = record.peer?.port;
    if (port === undefined || findRefusal([JSON.stringify(record)], port, 0) === undefined) return;
    byPort.delete(port);
    byPort.set(port, record);
    if (byPort.size > keep) byPort.delete(byPort.keys().next().value as number);
    waiters.get(port)?.();
  });
  const explain = async (rejection: Extract<DeviceEvent, { type: 'rejected' }>) => {
    const port = rejection.localPort;
    if (port === undefined) return undefined;
    if (!byPort.has(port)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.waitMs ?? 3_000);
        waiters.set(port, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      waiters.delete(port);
    }
    const record = byPort.get(port);
    return record ? toExplanation(record) : undefined;
  };
  return Object.assign(explain, { close: unsubscribe });
}

export function findRefusal(
  lines: string[],
  localPort: number | undefined,
  since: number,
): AuditLine | undefined {
  if (localPort === undefined) return undefined;
  for (let index = lines.length - 1; index >= 0; index--) {
    let record: AuditLine;
    try {
      record = JSON.parse(lines[index] as string) as AuditLine;
    } catch {
      continue;
    }
    if (record.peer?.port !== localPort || !REFUSALS.has(record.event ?? '')) continue;
    if (record.ts && Date.parse(record.ts) < since) continue;
    if (!isReason(record.reason) || UNINFORMATIVE.has(record.reason)) continue;
    return record;
  }
  return undefined;
}

function toExplanation(record: AuditLine): Explanation {
  const reason = record.reason as Reason;
  const words = [record.detail, record.topic && `topic "${record.topic}"`].filter(Boolean).join('; ');
  return {
    reason,
    step: stepForReason(reason),
    detail: `the broker audit says ${reason}${words ? ` (${words})` : ''}`,
  };
}

/** The last 1 MiB of the audit file, as lines. */
async function readTail(path: string): Promise<string[]> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, 1 << 20);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  } finally {
    await handle?.close();
  }
}

/** The device's ladder with the broker's verdict placed at the step where the broker decided. */
export function refineAttempt(attempt: HandshakeAttempt, explanation: Explanation): HandshakeAttempt {
  const failedAt = LADDER_STEPS.indexOf(explanation.step);
  return {
    ...attempt,
    steps: attempt.steps.map((step, index) => {
      if (index < failedAt) return step;
      if (index === failedAt) {
        const previous = attempt.steps.find((entry) => entry.status === 'failed');
        return {
          ...step,
          status: 'failed',
          reason: explanation.reason,
          detail: explanation.detail,
          ...(step.at === undefined && previous?.at !== undefined && { at: previous.at }),
        };
      }
      return step.status === 'ok' ? step : { step: step.step, status: 'skipped' };
    }),
  };
}
