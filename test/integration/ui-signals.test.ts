/**
 * The dashboard stops everything it started when it is told to from outside: SIGTERM (a supervisor, `kill`) and
 * SIGHUP (the terminal closed). Runs in tmux like a person would.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PID_FILE } from '../../ui/launch/run-dashboard.ts';
import { hasTmux, isAlive, processesMatching, TmuxSession } from '../helpers/ui-tmux.ts';

const REPO = resolve(import.meta.dirname, '../..');
const cleanups: (() => unknown)[] = [];
let stateDir = '';
let scriptDir = '';

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-signals-'));
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
  scriptDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-signals-script-'));
  cleanups.push(() => rm(scriptDir, { recursive: true, force: true }));
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startDashboard(
  name: string,
): Promise<{ tmux: TmuxSession; pids: { dashboard: number; broker: number; fleet: number } }> {
  const script = join(scriptDir, `${name}.sh`);
  await writeFile(
    script,
    `cd '${REPO}'\nnode bin/certfleet.js ui --sensors 2 --state-dir '${stateDir}'\necho "DASHBOARD EXITED: $?"\nsleep 600\n`,
  );
  await rm(join(stateDir, PID_FILE), { force: true });
  const tmux = TmuxSession.start(`${name}-${process.pid}`, `sh ${script}`);
  cleanups.push(() => tmux.kill());
  await tmux.waitFor((screen) => Number(/● online (\d+)/.exec(screen)?.[1] ?? 0) >= 1, 120_000);
  const pids = JSON.parse(await readFile(join(stateDir, PID_FILE), 'utf8')) as {
    dashboard: number;
    broker: number;
    /** The fleet host: the devices, the dashboard's own client and the PKI worker. */
    fleet: number;
  };
  expect(isAlive(pids.fleet)).toBe(true);
  return { tmux, pids };
}

async function waitUntilGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 200));
}

describe.skipIf(!hasTmux())('dashboard signals', () => {
  it('SIGTERM stops the broker, the fleet and the dashboard, and restores the terminal', async () => {
    const { tmux, pids } = await startDashboard('certfleet-sigterm');
    process.kill(pids.dashboard, 'SIGTERM');
    const screen = await tmux.waitFor(/DASHBOARD EXITED: \d+/, 30_000);
    expect(screen).toContain('certfleet: stopped the broker');
    await waitUntilGone([pids.dashboard, pids.broker, pids.fleet], 10_000);
    expect(isAlive(pids.dashboard)).toBe(false);
    expect(isAlive(pids.broker)).toBe(false);
    expect(isAlive(pids.fleet)).toBe(false);
    expect(processesMatching(stateDir)).toEqual([]);
  }, 240_000);

  it('closing the terminal (SIGHUP) leaves no process behind', async () => {
    const { tmux, pids } = await startDashboard('certfleet-sighup');
    tmux.kill();
    await waitUntilGone([pids.dashboard, pids.broker, pids.fleet], 20_000);
    expect(isAlive(pids.dashboard)).toBe(false);
    expect(isAlive(pids.broker)).toBe(false);
    expect(isAlive(pids.fleet)).toBe(false);
    expect(processesMatching(stateDir)).toEqual([]);
  }, 240_000);

  it('a dashboard killed with SIGKILL leaves no fleet host and no broker behind (their lifelines close)', async () => {
    const { pids } = await startDashboard('certfleet-sigkill');
    process.kill(pids.dashboard, 'SIGKILL');
    await waitUntilGone([pids.dashboard, pids.broker, pids.fleet], 20_000);
    expect(isAlive(pids.fleet)).toBe(false);
    expect(isAlive(pids.broker)).toBe(false);
    expect(processesMatching(stateDir)).toEqual([]);
  }, 240_000);
});
