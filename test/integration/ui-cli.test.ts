/** `certfleet` without a terminal: it must not try to draw, and must say what to run instead. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../bin/certfleet.js');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe('certfleet without a TTY', () => {
  it.each([[[]], [['ui']]])('certfleet %j exits non-zero and points to the headless fleet', async (args) => {
    const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-cli-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const result = spawnSync(process.execPath, [CLI, ...args, '--state-dir', stateDir], {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ERROR: cannot open the dashboard');
    expect(result.stderr).toContain('certfleet devices run');
    // Nothing was started or created: no PKI, no broker.
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('rejects an unknown rogue kind before starting anything', () => {
    const result = spawnSync(process.execPath, [CLI, 'ui', '--rogue', 'bogus'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ERROR: unknown rogue kind: "bogus"');
  });

  it.each([
    [['--redis', 'redis://127.0.0.1:6379'], 'ERROR: cannot use --redis without --cluster'],
    [['--cluster', '2', '--port', '8883'], 'ERROR: cannot use --port with --cluster'],
    [['--cluster', '0'], '--cluster'],
  ])('refuses %j before starting anything', (args, said) => {
    const result = spawnSync(process.execPath, [CLI, 'ui', ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(said);
    expect(result.stderr).not.toMatch(/ at .*\.ts:\d+/); // a user mistake: no stack trace
  });
});
