/**
 * The dashboard end to end, in a real terminal: tmux runs `npm start` on a fresh state dir; we wait for devices
 * online, add an expired rogue with `r` and see it rejected with its reason at step 5 of the ladder, revoke a device
 * with `x` and see the broker cut it off, quit with `q`, and check that no process the dashboard started survives.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REASONS } from '../../core/reasons.ts';
import { ROGUE_ITEMS } from '../../ui/catalogue.ts';
import { PID_FILE } from '../../ui/launch/run-dashboard.ts';
import { hasTmux, isAlive, processesMatching, TmuxSession } from '../helpers/ui-tmux.ts';

const REPO = resolve(import.meta.dirname, '../..');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe.skipIf(!hasTmux())('dashboard in a real terminal', () => {
  it('shows a rogue rejected with its reason, revokes a device live, and leaves no process behind', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-e2e-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    // The script lives outside the state dir so that only processes started by the dashboard name that dir.
    const scriptDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-e2e-script-'));
    cleanups.push(() => rm(scriptDir, { recursive: true, force: true }));
    const script = join(scriptDir, 'run.sh');
    await writeFile(
      script,
      `cd '${REPO}'\nexport CERTFLEET_HOME='${stateDir}'\nnpm start --silent\necho "DASHBOARD EXITED: $?"\nsleep 600\n`,
    );
    const tmux = TmuxSession.start(`certfleet-e2e-${process.pid}`, `sh ${script}`);
    cleanups.push(() => tmux.kill());

    // First run: the PKI is created (RSA-3072 root), then the broker, the demo fleet and the dashboard.
    await tmux.waitFor((screen) => Number(/● online (\d+)/.exec(screen)?.[1] ?? 0) >= 4, 120_000);
    const pids = JSON.parse(await readFile(join(stateDir, PID_FILE), 'utf8')) as {
      dashboard: number;
      broker: number;
    };

    // r → the rogue menu; pick `expired`.
    tmux.keys('r');
    await tmux.waitFor(/Add a rogue device/, 10_000);
    const expiredAt = ROGUE_ITEMS.findIndex((item) => item.value === 'expired');
    for (let i = 0; i < expiredAt; i++) tmux.keys('Down');
    await tmux.waitFor(/› expired/, 10_000);
    tmux.keys('Enter');
    await tmux.waitFor(/added rogue rogue-expired/, 30_000);
    // Select it (the newest device is last) and read its ladder.
    tmux.keys('End');
    // The device first sees the broker close after its handshake; the broker's audit then names the reason and the
    // ladder moves the failure to step 5.
    const rejected = await tmux.waitFor(
      (screen) =>
        /✗ rogue-expired +expired +EXPIRED/.test(screen) &&
        /✗ 5 server verifies the client/.test(screen) &&
        screen.includes(`↳ EXPIRED: ${REASONS.EXPIRED}`),
      60_000,
    );
    expect(rejected).toMatch(/✓ 1 client connects \(TCP\)/);
    expect(rejected).toMatch(/- 6 server grants access/);

    // Find sensor-001 with the filter (devices are listed in the order they came up), then x: it is revoked and the
    // broker cuts it off.
    tmux.keys('/');
    await tmux.waitFor(/filter> /, 10_000);
    tmux.type('sensor-001');
    tmux.keys('Enter');
    await tmux.waitFor(
      (screen) =>
        screen.includes('devices 1–1 of 1  filter "sensor-001"') &&
        /│sensor-001 +climate +● online/.test(screen),
      30_000,
    );
    tmux.keys('x');
    await tmux.waitFor(/Revoke sensor-001's certificate\?/, 10_000);
    tmux.keys('y');
    await tmux.waitFor(/revoked sensor-001/, 30_000);
    const revoked = await tmux.waitFor(/sensor-001.*REVOKED/, 60_000);
    expect(revoked).toContain('certificate revoked');

    // q: the terminal is restored and every process the dashboard started has ended.
    tmux.keys('q');
    const after = await tmux.waitFor(/DASHBOARD EXITED: (\d+)/, 30_000);
    expect(after).toMatch(/DASHBOARD EXITED: 0/);
    expect(isAlive(pids.dashboard)).toBe(false);
    expect(isAlive(pids.broker)).toBe(false);
    expect(processesMatching(stateDir)).toEqual([]);
  }, 300_000);
});
