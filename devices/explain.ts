/**
 * Joins a device's rejection with the broker's side — the one explanation path, used by `devices run`, `check`
 * and the dashboard. The device knows its local port; the broker's audit record of the same TCP connection
 * (peer.port) names the reason a client cannot see (e.g. an expired certificate refused after a TLS 1.3
 * handshake, or which rule stands behind CONNACK "not authorized").
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type AuditRecord, isInformativeRefusal, parseAuditRecord } from '../core/audit.ts';
import { failAt, type HandshakeAttempt, type LadderStepName, stepForReason } from '../core/ladder.ts';
import type { Reason } from '../core/reasons.ts';
import type { DeviceEvent } from './events.ts';

export interface Explanation {
  reason: Reason;
  step: LadderStepName;
  detail: string;
}

export type Explainer = (
  rejection: Extract<DeviceEvent, { type: 'rejected' }>,
) => Promise<Explanation | undefined>;

/** The broker's verdict on a connection, placed at the ladder step where the broker decided it. */
export function explanationOf(record: AuditRecord): Explanation {
  const reason = record.reason as Reason;
  const words = [record.detail, record.topic && `topic "${record.topic}"`].filter(Boolean).join('; ');
  // A certificate that expired during an accepted session was cut while messages flowed, not refused at step 5.
  const endedSession = record.event === 'expired-session-closed' || record.event === 'disconnected';
  return {
    reason,
    step: reason === 'EXPIRED' && endedSession ? 'messages-flow' : stepForReason(reason),
    detail: `the broker audit says ${reason}${words ? ` (${words})` : ''}`,
  };
}

/**
 * Remembers the recent refusals of a live audit feed (an embedded broker's `audit` event, or the audit topic) by
 * peer port, and answers a rejection with the record of its connection, waiting briefly for it: the device may
 * notice the refusal before the broker's record arrives. A record older than the rejected attempt is of an earlier
 * connection that had the same local port (ports are reused once freed), never this one's: it is waited past.
 */
export class AuditExplainer {
  private readonly byPort = new Map<number, AuditRecord>();
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly options: { waitMs?: number; keep?: number } = {}) {}

  observe(record: AuditRecord | null): void {
    const port = record?.peer?.port;
    if (!record || port === undefined || !isInformativeRefusal(record)) return;
    this.byPort.delete(port);
    this.byPort.set(port, record);
    if (this.byPort.size > (this.options.keep ?? 10_000))
      this.byPort.delete(this.byPort.keys().next().value as number);
    this.waiting.get(port)?.();
  }

  readonly explain: Explainer = async (rejection) => {
    const port = rejection.localPort;
    if (port === undefined) return undefined;
    const since = rejection.attemptStartedAt ?? Number.NEGATIVE_INFINITY;
    const ofThisAttempt = () => {
      const record = this.byPort.get(port);
      return record && Date.parse(record.ts) >= since ? record : undefined;
    };
    const deadline = Date.now() + (this.options.waitMs ?? 3_000);
    while (!ofThisAttempt() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiting.set(port, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiting.delete(port);
    }
    const record = ofThisAttempt();
    return record ? explanationOf(record) : undefined;
  };
}

/** An explainer over a live feed of audit records; `close` unsubscribes. */
export function auditFeedExplainer(
  subscribe: (listener: (record: AuditRecord) => void) => () => void,
  options: { waitMs?: number; keep?: number } = {},
): Explainer & { close: () => void } {
  const explainer = new AuditExplainer(options);
  const close = subscribe((record) => explainer.observe(record));
  return Object.assign(explainer.explain, { close });
}

/**
 * An explainer reading the broker's audit file (`<stateDir>/audit.jsonl`), shared by our embedded broker and
 * `certfleet broker` on the same state dir. It waits briefly for the record: the broker writes it asynchronously.
 */
export function auditFileExplainer(auditPath: string, options: { waitMs?: number } = {}): Explainer {
  return async (rejection) => {
    const deadline = Date.now() + (options.waitMs ?? 3_000);
    // not older than the attempt: an older record of the same port is of an earlier connection (see AuditExplainer)
    const since = rejection.attemptStartedAt ?? rejection.at - 60_000;
    for (;;) {
      const record = findRefusal(await readTail(auditPath), rejection.localPort, since);
      if (record) return explanationOf(record);
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
}

/** What an embedded broker offers: its audit records as events (broker/broker.ts; devices/ must not import it). */
export interface AuditEvents {
  on(event: 'audit', listener: (record: AuditRecord) => void): unknown;
  off(event: 'audit', listener: (record: AuditRecord) => void): unknown;
}

/**
 * The broker's audit as an explainer: live from an embedded broker, else from the audit file a `certfleet broker` on
 * the same state dir writes, else none. `close` stops listening.
 */
export function brokerAuditExplainer(source: {
  broker?: AuditEvents;
  auditFile: string;
}): Explainer & { close: () => void } {
  const { broker } = source;
  if (broker) {
    return auditFeedExplainer((listener) => {
      broker.on('audit', listener);
      return () => broker.off('audit', listener);
    });
  }
  const fromFile = existsSync(source.auditFile)
    ? auditFileExplainer(source.auditFile)
    : async () => undefined;
  return Object.assign(fromFile, { close: () => {} });
}

/**
 * Of several brokers (a cluster's nodes, each with its own audit), asks the one the refused attempt dialled; when
 * the rejection does not say which, each in turn.
 */
export function explainOnDialledNode(nodes: { at: string; explain: Explainer }[]): Explainer {
  const inTurn = firstExplanation(...nodes.map((node) => node.explain));
  return async (rejection) => {
    const node = nodes.find((candidate) => candidate.at === rejection.dialed);
    return node ? node.explain(rejection) : inTurn(rejection);
  };
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

/** The newest informative refusal of the connection from `localPort` among audit lines, not older than `since`. */
export function findRefusal(
  lines: string[],
  localPort: number | undefined,
  since: number,
): AuditRecord | undefined {
  if (localPort === undefined) return undefined;
  for (let index = lines.length - 1; index >= 0; index--) {
    const record = parseAuditRecord(lines[index] as string);
    if (!record || record.peer?.port !== localPort || !isInformativeRefusal(record)) continue;
    if (Date.parse(record.ts) < since) continue;
    return record;
  }
  return undefined;
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
  return { ...attempt, steps: failAt(attempt.steps, explanation) };
}
