/**
 * Reads the broker's audit records (JSON on `$SYS/certfleet/audit`) tolerantly: the dashboard must never crash on a
 * record shape it does not know, it shows what it can. Field names follow broker/audit-record.ts (AuditRecord).
 */
import { isReason, type Reason, REASONS } from '../../core/reasons.ts';
import type { LogLevel } from './types.ts';

export interface AuditSummary {
  at: number;
  /** The identity the record is about: the certificate CN, else the MQTT client id. */
  id?: string;
  event: string;
  reason?: Reason;
  /** The client's TCP port as the broker saw it: joins the record with a device's handshake attempt. */
  remotePort?: number;
  level: LogLevel;
  text: string;
}

function stringField(record: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = record[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

function timeOf(record: Record<string, unknown>): number {
  const value = record.at ?? record.time ?? record.ts ?? record.timestamp;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return Date.now();
}

/** Returns null for anything that is not a JSON object. */
export function summarizeAudit(payload: string | Buffer): AuditSummary | null {
  let record: unknown;
  try {
    record = JSON.parse(payload.toString());
  } catch {
    return null;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return null;
  const fields = record as Record<string, unknown>;
  const event = stringField(fields, 'event', 'type', 'kind', 'decision') ?? 'audit';
  const id = stringField(fields, 'cn', 'commonName', 'identity', 'clientId', 'id');
  const reasonField = fields.reason ?? fields.code;
  const reason = isReason(reasonField) ? reasonField : undefined;
  const peer = fields.peer as { port?: unknown } | undefined;
  const port = peer?.port ?? fields.remotePort;
  const topic = stringField(fields, 'topic', 'filter');
  const failed = reason !== undefined && reason !== 'OK';
  const detail = stringField(fields, 'detail');
  const words = reason && reason !== 'OK' ? `${reason}: ${REASONS[reason]}` : undefined;
  const parts = [event, id, topic, words, detail ? `(${detail})` : undefined];
  return {
    at: timeOf(fields),
    id,
    event,
    reason,
    remotePort: typeof port === 'number' ? port : undefined,
    level: failed ? 'warn' : 'info',
    text: parts.filter((part) => part !== undefined).join(' · '),
  };
}
