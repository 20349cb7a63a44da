import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, readAuditLog } from '../../broker/audit-log.ts';

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
});
