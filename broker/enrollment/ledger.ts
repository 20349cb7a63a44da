/**
 * What the enrollment service issued, one JSON line per certificate in `<stateDir>/enrollment.jsonl`, appended
 * with one write(2) each (as the audit is): a claim's quota counts its lines, so it survives broker restarts, and a
 * CN once provisioned is never handed to a second device.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { type EnrollmentRecord, readEnrollmentRecords } from '../../pki/index.ts';
import { normalizeSerial } from '../peer-certificate.ts';

/** One line of the ledger: the format is defined in pki/ (the CA's own record of what it signed). */
export type LedgerEntry = EnrollmentRecord;

export class EnrollmentLedger {
  private fd: number | null;
  private readonly perClaim = new Map<string, number>();
  private readonly provisioned = new Set<string>();
  /** Rotation lineage, new serial → the serial it replaced (normalized): revoking one revokes its successors. */
  private readonly predecessorOf = new Map<string, string>();

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    for (const entry of readEnrollmentRecords(path)) this.count(entry);
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Identities a claim has obtained so far. */
  usedBy(claim: string): number {
    return this.perClaim.get(claim) ?? 0;
  }

  wasProvisioned(cn: string): boolean {
    return this.provisioned.has(cn);
  }

  append(entry: LedgerEntry): void {
    if (this.fd === null) return;
    writeSync(this.fd, `${JSON.stringify(entry)}\n`); // on disk (in the kernel) before the device hears of it
    this.count(entry);
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }

  /** The first of this serial's predecessors (by rotation) that `isRevoked` says is revoked, or null. */
  revokedPredecessor(serial: string, isRevoked: (serial: string) => boolean): string | null {
    const seen = new Set<string>();
    for (
      let at = this.predecessorOf.get(normalizeSerial(serial));
      at && !seen.has(at);
      at = this.predecessorOf.get(at)
    ) {
      if (isRevoked(at)) return at;
      seen.add(at);
    }
    return null;
  }

  private count(entry: LedgerEntry): void {
    if (entry.via === 'rotation') {
      this.predecessorOf.set(normalizeSerial(entry.serial), normalizeSerial(entry.requestedWith));
      return;
    }
    if (entry.via !== 'claim' || !entry.claim) return;
    this.perClaim.set(entry.claim, (this.perClaim.get(entry.claim) ?? 0) + 1);
    this.provisioned.add(entry.cn);
  }
}
