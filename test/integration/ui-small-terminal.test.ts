/**
 * The dashboard in an 80×24 terminal (tmux), as a new user on a laptop would see it: the expired rogue's reason is on
 * the first screen once it is selected (n jumps to it), Enter shows its whole ladder, the footer keeps `? help` and
 * `q quit`, and `y` on a device gives a mosquitto_pub command that really connects to the dashboard's broker on the
 * port pinned with --port.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REASONS } from '../../core/reasons.ts';
import { hasTmux, TmuxSession } from '../helpers/ui-tmux.ts';

const REPO = resolve(import.meta.dirname, '../..');
const CLI = join(REPO, 'bin/certfleet.js');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

const hasMosquittoPub = spawnSync('mosquitto_pub', ['--help']).error === undefined;

describe.skipIf(!hasTmux() || !hasMosquittoPub)('dashboard at 80×24', () => {
  it('shows the expired rogue’s reason on the first screen and a mosquitto_pub command that works', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-small-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    execFileSync(process.execPath, [CLI, 'pki', 'init', '--state-dir', stateDir], { stdio: 'ignore' });
    const port = await freePort();
    const command = `cd '${REPO}' && node bin/certfleet.js ui --sensors 2 --rogue expired --port ${port} --state-dir '${stateDir}'; sleep 600`;
    const tmux = TmuxSession.start(`certfleet-small-${process.pid}`, command, 80, 24);
    cleanups.push(() => tmux.kill());

    await tmux.waitFor((screen) => /● online 2/.test(screen) && /✗ rejected 1/.test(screen), 120_000);
    const start = tmux.capture().trimEnd().split('\n');
    expect(start.at(-1)).toMatch(/\? help {2}q quit$/);

    // n: the next rejected device. Its reason shows under the list, without opening anything.
    tmux.keys('n');
    const selected = await tmux.waitFor(
      (screen) => screen.includes(`↳ EXPIRED: ${REASONS.EXPIRED}`) && /›✗ rogue-expired/.test(screen),
      60_000,
    );
    expect(selected).toContain('✗ rejected at step 5 (server verifies the client)');
    expect(selected.trimEnd().split('\n').length).toBeLessThanOrEqual(24);

    // Enter: the whole ladder on the screen; Esc: back to the list.
    tmux.keys('Enter');
    const detail = await tmux.waitFor(/✗ 5 server verifies the client/, 10_000);
    expect(detail).toMatch(/✓ 1 client connects \(TCP\)/);
    expect(detail).toMatch(/- 6 server grants access/);
    tmux.keys('Escape');
    await tmux.waitFor(/DEVICE +KIND/, 10_000);

    // y on the first device in the list: the command names the pinned port; run it as printed.
    tmux.keys('Home', 'y');
    await tmux.waitFor(/mosquitto_sub/, 20_000);
    // Copied off the screen as a person would: from mosquitto_pub to the line without a continuation.
    const screen = tmux.capture().split('\n');
    const first = screen.findIndex((line) => line.startsWith('mosquitto_pub'));
    const last = screen.findIndex((line, index) => index >= first && !line.trimEnd().endsWith('\\'));
    const pub = screen.slice(first, last + 1).join('\n');
    // The two sensors are listed in the order they came up.
    expect(pub).toMatch(
      new RegExp(`^mosquitto_pub -h 127\\.0\\.0\\.1 -p ${port} -i (sensor-001|tracker-002) \\\\$`, 'm'),
    );
    const run = spawnSync('sh', ['-c', pub as string], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    tmux.keys('Escape', 'q');
    await tmux.waitFor(/stopped the broker/, 30_000);
  }, 240_000);
});
