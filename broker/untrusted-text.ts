/**
 * Strings a peer chose — client ids, topics, certificate names, and details quoting them — are length-capped and
 * have every control character escaped before they enter an audit record. The record is then safe wherever it goes:
 * the JSONL file, the live feed, the broker's console and the dashboard. A client id holding "\n" and "ESC[2J" once
 * forged a console line and cleared the operator's terminal.
 */
import type { AuditRecord } from './audit-record.ts';

/** C0 and C1 controls, DEL, and the Unicode marks that reorder or hide text on a terminal. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

export function escapeUntrusted(text: string, max: number): string {
  const capped = text.length > max ? `${text.slice(0, max)}…(${text.length - max} more characters)` : text;
  return capped.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const NAME_MAX = 256;
const DETAIL_MAX = 1024;

export function sanitizeRecord<T extends Omit<AuditRecord, 'ts'>>(record: T): T {
  const clean = { ...record };
  if (clean.clientId !== undefined) clean.clientId = escapeUntrusted(clean.clientId, NAME_MAX);
  if (clean.cn !== undefined) clean.cn = escapeUntrusted(clean.cn, NAME_MAX);
  if (clean.topic !== undefined) clean.topic = escapeUntrusted(clean.topic, NAME_MAX);
  if (clean.detail !== undefined) clean.detail = escapeUntrusted(clean.detail, DETAIL_MAX);
  if (clean.cert) {
    clean.cert = {
      ...clean.cert,
      subject: escapeUntrusted(clean.cert.subject, NAME_MAX),
      issuer: escapeUntrusted(clean.cert.issuer, NAME_MAX),
    };
  }
  return clean;
}
