/**
 * One broker audit record (core/audit.ts, already parsed) as a line of the dashboard's event log.
 */
import type { AuditRecord } from '../../core/audit.ts';
import { REASONS, type Reason } from '../../core/reasons.ts';
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

export function summarizeAudit(record: AuditRecord): AuditSummary {
  const id = record.cn ?? record.clientId;
  const reason = record.reason === 'OK' ? undefined : record.reason;
  const words = reason && `${reason}: ${REASONS[reason]}`;
  const parts = [
    record.event,
    id,
    record.topic,
    words,
    record.detail && `(${record.detail})`,
    record.node && `@${record.node}`, // the cluster node that decided
  ];
  const at = Date.parse(record.ts);
  return {
    at: Number.isNaN(at) ? Date.now() : at,
    ...(id !== undefined && { id }),
    event: record.event,
    ...(reason !== undefined && { reason }),
    ...(record.peer && { remotePort: record.peer.port }),
    level: reason ? 'warn' : 'info',
    text: parts.filter(Boolean).join(' · '),
  };
}
