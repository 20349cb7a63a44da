import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certfleet-audit-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the audit file', () => {
  it('appends one JSON record per line, across restarts', async () => {
    const path = join(dir, 'a.jsonl');
    for (const n of [1, 2]) {
      const log = new AuditLog(path);
      log.append({ ts: `t${n}`, event: 'broker-started', reason: 'OK' });
      log.close();
      log.append({ ts: 'late', event: 'broker-stopped', reason: 'OK' }); // after close: ignored, not thrown
    }
    expect((await readAuditLog(path)).map((r) => r.ts)).toEqual(['t1', 't2']);
  });

  it('reads back after a crash with only the partial last line dropped', async () => {
    const path = join(dir, 'b.jsonl');
    const log = new AuditLog(path);
    log.append({ ts: 't1', event: 'connection-accepted', reason: 'OK', cn: 'sensor-001' });
    await appendFile(path, '{"ts":"t2","event":"disconn');
    const records = await readAuditLog(path);
    expect(records).toEqual([{ ts: 't1', event: 'connection-accepted', reason: 'OK', cn: 'sensor-001' }]);
    log.close();
  });

  it('a corrupt line in the middle is an error, not silently skipped', async () => {
    const path = join(dir, 'c.jsonl');
    await appendFile(path, '{"ts":"t1","event":"broker-started","reason":"OK"}\nnot json\n{"ts":"t2"}\n');
    await expect(readAuditLog(path)).rejects.toThrow(/c\.jsonl:2: not a JSON audit record/);
  });

  it('records of one turn share one write, are announced only once in the file, and keep the call order', async () => {
    const path = join(dir, 'd.jsonl');
    const heard: { ts: string; inFile: boolean }[] = [];
    const log = new AuditLog(path, (record: AuditRecord, json: string) => {
      heard.push({ ts: record.ts, inFile: readFileSync(path, 'utf8').includes(`${json}\n`) });
    });
    log.appendInTurn({ ts: 't1', event: 'connection-accepted', reason: 'OK', cn: 'sensor-001' });
    log.appendInTurn({ ts: 't2', event: 'disconnected', reason: 'CLIENT_CLOSED', cn: 'sensor-002' });
    expect(readFileSync(path, 'utf8')).toBe(''); // queued for the end of the turn
    expect(heard).toEqual([]); // and nobody told yet
    await new Promise((turn) => setImmediate(turn));
    expect((await readAuditLog(path)).map((r) => r.ts)).toEqual(['t1', 't2']);
    expect(heard).toEqual([
      { ts: 't1', inFile: true },
      { ts: 't2', inFile: true },
    ]);
    // A record written at once (a refusal, a cut) goes after what this turn queued before it, never ahead.
    log.appendInTurn({ ts: 't3', event: 'connection-accepted', reason: 'OK', cn: 'sensor-003' });
    log.append({ ts: 't4', event: 'publish-denied', reason: 'PUBLISH_DENIED', cn: 'sensor-003' });
    expect((await readAuditLog(path)).map((r) => r.ts)).toEqual(['t1', 't2', 't3', 't4']);
    expect(heard.map((h) => h.ts)).toEqual(['t1', 't2', 't3', 't4']);
    // close() writes what is still queued
    log.appendInTurn({ ts: 't5', event: 'disconnected', reason: 'CLIENT_CLOSED', cn: 'sensor-003' });
    log.close();
    expect((await readAuditLog(path)).map((r) => r.ts)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(heard.every((h) => h.inFile)).toBe(true);
  });

  it('a process that exits with records still queued writes them first', async () => {
    const path = join(dir, 'e.jsonl');
    const script = [
      `import { AuditLog } from ${JSON.stringify(join(import.meta.dirname, '../../broker/audit-log.ts'))};`,
      `const log = new AuditLog(${JSON.stringify(path)});`,
      `log.appendInTurn({ ts: 't1', event: 'connection-accepted', reason: 'OK' });`,
      `log.appendInTurn({ ts: 't2', event: 'disconnected', reason: 'CLIENT_CLOSED' });`,
      'process.exit(0);', // before the turn ends
    ].join('\n');
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: 'pipe',
    });
    expect((await readAuditLog(path)).map((r) => r.ts)).toEqual(['t1', 't2']);
  });
});
