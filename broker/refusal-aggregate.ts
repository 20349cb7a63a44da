/**
 * Repeated refusals from one address are said once, with a count: the first `individually` refusals of a kind
 * (event + reason + address) within a window are audited as they happen, the rest of that window become one record
 * with `count` when it closes. A flood of 2,000 sockets thus writes a few records, not 2,000 — the audit stays
 * bounded — and no refusal goes uncounted.
 */
import type { AuditRecord } from './audit-record.ts';

type Partial = Omit<AuditRecord, 'ts'>;

interface Window {
  seen: number;
  suppressed: number;
  last?: Partial;
  timer: NodeJS.Timeout;
}

export interface RefusalAggregator {
  /** Audits the record now, or counts it into its window. */
  add(record: Partial): void;
  /** Writes every open window's count now (on shutdown). */
  flush(): void;
}

export function aggregateRefusals(
  audit: (record: Partial) => void,
  options: { windowMs?: number; individually?: number; maxWindows?: number } = {},
): RefusalAggregator {
  const windowMs = options.windowMs ?? 10_000;
  const individually = options.individually ?? 10;
  const maxWindows = options.maxWindows ?? 10_000;
  const windows = new Map<string, Window>();

  const close = (key: string) => {
    const window = windows.get(key);
    if (!window) return;
    windows.delete(key);
    clearTimeout(window.timer);
    if (window.suppressed === 0 || !window.last) return;
    const { last } = window;
    audit({
      ...last,
      count: window.suppressed,
      detail: `${window.suppressed} more like this from ${last.peer?.address} within ${windowMs / 1000} s (the last: ${last.detail ?? '-'})`,
    });
  };

  return {
    add(record) {
      const address = record.peer?.address;
      if (address === undefined) return audit(record);
      const key = `${record.event}|${record.reason}|${address}`;
      let window = windows.get(key);
      if (!window) {
        if (windows.size >= maxWindows) close(windows.keys().next().value as string);
        const timer = setTimeout(() => close(key), windowMs);
        timer.unref();
        window = { seen: 0, suppressed: 0, timer };
        windows.set(key, window);
      }
      window.seen++;
      if (window.seen <= individually) return audit(record);
      window.suppressed++;
      window.last = record;
    },
    flush() {
      for (const key of [...windows.keys()]) close(key);
    },
  };
}
