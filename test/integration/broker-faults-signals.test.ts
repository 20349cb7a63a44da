/** SIGTERM and SIGINT stop the broker gracefully whatever its stdin: open, piped from a live parent, or closed. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readAuditLog } from '../../broker/audit-log.ts';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';
import { CERTFLEET } from '../helpers/pki-fixture.ts';

let pki: PkiFixture;
const pids: number[] = [];
beforeAll(async () => {
  pki = await makePki();
}, 60_000);
afterAll(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await pki?.cleanup();
});

it.each([
  ['SIGTERM', ['--stop-with-parent']],
  ['SIGINT', ['--stop-with-parent']],
] as const)('%s with stdin left open (%j): exit 0, audit ends with broker-stopped', async (signal, extra) => {
  const auditFile = `${pki.stateDir}/audit-${signal}-${extra.length}.jsonl`;
  const child = spawn(
    process.execPath,
    [
      CERTFLEET,
      '--state-dir',
      pki.stateDir,
      'broker',
      '--port',
      '0',
      '--json-ready',
      '--audit-file',
      auditFile,
      ...extra,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] }, // stdin: a pipe this test never closes
  );
  pids.push(child.pid!);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, sig) => resolve({ code, signal: sig })),
  );
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill(signal);
  // It stops by itself (before, stdin left open kept it running): the cap only turns "never" into this failure.
  const outcome = await Promise.race([
    exited,
    new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000).unref()),
  ]);
  expect(outcome).toEqual({ code: 0, signal: null });
  const records = await readAuditLog(auditFile);
  expect(records.at(-1)?.event).toBe('broker-stopped');
});
