/**
 * The audit file: JSONL on a file opened O_APPEND. A record is in the kernel before the broker acts on the
 * decision, so a crash loses nothing acknowledged; a line can only be cut short by a power loss, and `readAuditLog`
 * drops such a partial last line. `close()` fsyncs.
 *
 * Two ways in. `append` writes at once (one write(2)): for a decision whose act may follow right away (a refusal, a
 * cut). `appendInTurn` is for the two records every connection makes — `connection-accepted`, whose act (the CONNACK)
 * leaves through the client's corked socket only in a later immediate (write-coalescing.ts), and `disconnected`,
 * which tells of something already over: they are written together, one write(2) per turn of the event loop, from
 * an immediate queued before that CONNACK's. Either way a record is announced (the `announce` callback given to the
 * constructor: the broker's 'audit' event and the audit feed) only once it is in the file, and the file and the
 * announcements keep the order of the calls.
 * A clean exit — `close()`, or the process ending with records still queued — writes them first.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AuditRecord, parseAuditRecord } from './audit-record.ts';

/** Told of each record once it is in the file, with the JSON written (without the newline). */
export type Announce = (record: AuditRecord, json: string) => void;

/** Logs with records queued for the end of the turn: written if the process exits first. */
const withQueued = new Set<AuditLog>();
let exitHookInstalled = false;
function flushAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const log of withQueued) log.flush();
  });
}

export class AuditLog {
  private fd: number | null;
  private queuedText = '';
  private queued: { record: AuditRecord; json: string }[] = [];
  private flushScheduled = false;
  private readonly flushNow = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    readonly path: string,
    private readonly announce: Announce = () => {},
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Writes the record now (after anything queued, to keep the order), then announces it. */
  append(record: AuditRecord): void {
    const json = JSON.stringify(record);
    this.flush();
    // closed: the broker is gone, nothing left to decide
    if (this.fd !== null) writeSync(this.fd, `${json}\n`);
    this.announce(record, json);
  }

  /** Queues the record for the one write of this turn of the event loop; announced once written. */
  appendInTurn(record: AuditRecord): void {
    if (this.fd === null) {
      this.append(record); // closed: announced, not written
      return;
    }
    const json = JSON.stringify(record);
    this.queuedText += `${json}\n`;
    this.queued.push({ record, json });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      withQueued.add(this);
      flushAllOnExit();
      setImmediate(this.flushNow);
    }
  }

  /** Writes what is queued (one write(2)) and announces it, in order. */
  flush(): void {
    if (this.queued.length === 0) return;
    const text = this.queuedText;
    const queued = this.queued;
    this.queuedText = '';
    this.queued = [];
    withQueued.delete(this);
    if (this.fd !== null) writeSync(this.fd, text);
    for (const { record, json } of queued) this.announce(record, json);
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
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
