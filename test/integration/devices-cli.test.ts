/** `certfleet devices run` as a user runs it: a real process, the embedded broker, a summary and --json. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const cli = resolve(import.meta.dirname, '../../bin/certfleet.js');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certfleet-devices-cli-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function certfleet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('node', [cli, ...args], { timeout: 90_000 }, (error, stdout, stderr) =>
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('certfleet devices run', () => {
  it('--json: one object with per-device results; rogues rejected with reason and step', async () => {
    const dir = await stateDir();
    const run = await certfleet([
      '--state-dir',
      dir,
      'devices',
      'run',
      '--count',
      '2',
      '--profile',
      'meter,tracker',
      '--rogue',
      'expired',
      '--rogue',
      'no-cert',
      '--duration',
      '4s',
      '--interval',
      '500ms',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ devices: 4, rogues: 2, online: 2, rejected: 2 });
    expect(summary.broker).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+ \(embedded broker\)$/);
    expect(summary.rejectedByReason).toEqual({
      EXPIRED: ['rogue-expired'],
      NO_CERTIFICATE: ['rogue-no-cert'],
    });
    const byId = Object.fromEntries(summary.results.map((result: { id: string }) => [result.id, result]));
    expect(byId['meter-001']).toMatchObject({ kind: 'meter', state: 'online' });
    expect(byId['tracker-002']).toMatchObject({ kind: 'tracker', state: 'online' });
    expect(byId['meter-001'].messages.acked).toBeGreaterThan(0);
    expect(byId['rogue-expired']).toMatchObject({
      state: 'rejected',
      reason: 'EXPIRED',
      failedStep: 'client-verified',
    });
    expect(summary.messages.sent).toBeGreaterThanOrEqual(summary.messages.acked);
    expect(summary.errors).toEqual([]);

    // A second run on the same state dir reuses the PKI and identities, and prints the human summary.
    const again = await certfleet(['--state-dir', dir, 'devices', 'run', '--count', '1', '--duration', '3s']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('online:   1');
  }, 120_000);

  it('refuses an unknown rogue kind as a user error', async () => {
    const dir = await stateDir();
    const run = await certfleet([
      '--state-dir',
      dir,
      'devices',
      'run',
      '--rogue',
      'teapot',
      '--duration',
      '1s',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ERROR: unknown rogue kind: "teapot"');
  }, 60_000);
});
