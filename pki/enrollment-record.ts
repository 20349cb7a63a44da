/**
 * The file format of the enrollment ledger (`<stateDir>/enrollment.jsonl`): the broker's enrollment service appends
 * one JSON line per certificate it signs with our issuing CA. It lives in pki/ because those certificates are the
 * CA's too: `pki revoke` and `pki list` read it (the broker's ledger writes it with this same definition).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EnrollmentRecord {
  ts: string;
  via: 'rotation' | 'claim';
  /** The claim name, for `via: 'claim'`. */
  claim?: string;
  /** The CN the new certificate names. */
  cn: string;
  /** Hex, upper case, as the certificate builder made it. */
  serial: string;
  notAfter: string;
  /** The serial of the certificate that asked (the old one for a rotation, the claim certificate's for a claim). */
  requestedWith: string;
}

export function enrollmentLedgerPath(stateDir: string): string {
  return join(stateDir, 'enrollment.jsonl');
}

/** Every complete record, in order. A torn last line (a crash mid-append) is skipped: that certificate was never sent. */
export function parseEnrollmentRecords(text: string): EnrollmentRecord[] {
  const records: EnrollmentRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const record = JSON.parse(line) as EnrollmentRecord;
      if (typeof record?.cn === 'string' && typeof record.serial === 'string') records.push(record);
    } catch {
      // the unterminated tail of a crash
    }
  }
  return records;
}

/** The records of a ledger file; none when there is no file (no broker ever enrolled anything). */
export function readEnrollmentRecords(path: string): EnrollmentRecord[] {
  try {
    return parseEnrollmentRecords(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
