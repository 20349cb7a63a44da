/**
 * The audit file: JSONL, appended with one write(2) per record on a file opened O_APPEND. A record is in the
 * kernel before the broker acts on the decision, so a crash loses nothing acknowledged; a line can only be cut
 * short by a power loss, and `readAuditLog` drops such a partial last line. `close()` fsyncs.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AuditRecord, parseAuditRecord } from './audit-record.ts';

export class AuditLog {
  private fd: number | null;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Writes the record; returns its JSON (without the newline), so the audit feed publishes the same text. */
  append(record: AuditRecord): string {
    const json = JSON.stringify(record);
    // closed: the broker is gone, nothing left to decide
    if (this.fd !== null) writeSync(this.fd, `${json}\n`);
    return json;
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads an audit file back; a partial last line (a crash mid-write) is dropped, never an error. */
export async function readAuditLog(path: string): Promise<AuditRecord[]> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  const records: AuditRecord[] = [];
  for (const [index, line] of lines.entries()) {
    if (line === '') continue;
    const record = parseAuditRecord(line);
    if (record) {
      records.push(record);
      continue;
    }
    if (index === lines.length - 1) break; // the unterminated tail of a crash
    throw new Error(`${path}:${index + 1}: not a JSON audit record: ${line.slice(0, 80)}`);
  }
  return records;
}
