/**
 * `certfleet ui --cluster 2` in a real terminal (tmux): the dashboard starts a redis-server and two broker nodes, the
 * demo devices are spread over them and each device's detail line names its node (from the broker's audit); a node
 * SIGKILLed is reported and its devices come back on the other; q stops every node and Redis.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PID_FILE } from '../../ui/launch/run-dashboard.ts';
import { hasTmux, isAlive, processesMatching, TmuxSession } from '../helpers/ui-tmux.ts';

const REPO = resolve(import.meta.dirname, '../..');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe.skipIf(!hasTmux())('the dashboard on a local cluster', () => {
  it('spreads the devices over two nodes, shows each one’s node and a node’s death, and stops the nodes and Redis on q', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-cluster-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const scriptDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-cluster-script-'));
    cleanups.push(() => rm(scriptDir, { recursive: true, force: true }));
    const script = join(scriptDir, 'run.sh');
    await writeFile(
      script,
      `cd '${REPO}'\nnode bin/certfleet.js ui --cluster 2 --sensors 4 --state-dir '${stateDir}'\necho "DASHBOARD EXITED: $?"\nsleep 600\n`,
    );
    const tmux = TmuxSession.start(`certfleet-cluster-${process.pid}`, `sh ${script}`);
    cleanups.push(() => tmux.kill());
    cleanups.push(() => {
      for (const pid of processesMatching(stateDir)) process.kill(pid, 'SIGKILL'); // only if the test failed
    });

    await tmux.waitFor((s) => Number(/● online (\d+)/.exec(s)?.[1] ?? 0) >= 4, 150_000);
    const pids = JSON.parse(await readFile(join(stateDir, PID_FILE), 'utf8')) as Record<string, number>;
    expect(Object.keys(pids).sort()).toEqual(['broker', 'dashboard', 'fleet', 'local-2', 'redis']);
    for (const pid of Object.values(pids)) expect(isAlive(pid)).toBe(true);

    // tracker-002 starts on the second node (devices/plan.ts spreads by number): its detail line says so.
    tmux.keys('/');
    await tmux.waitFor(/filter> /, 10_000);
    tmux.type('tracker-002');
    tmux.keys('Enter');
    await tmux.waitFor(/tracker-002 +tracker +● online · on local-2/, 30_000);
    tmux.keys('/');
    await tmux.waitFor(/filter> /, 10_000);
    tmux.keys('C-u');
    tmux.type('meter-003');
    tmux.keys('Enter');
    await tmux.waitFor(/meter-003 +meter +● online · on local-1/, 30_000);

    // A node dies: the dashboard says so, and its devices come back on the other node.
    process.kill(pids['local-2']!, 'SIGKILL');
    await tmux.waitFor(/local-2 exited \(SIGKILL\): its devices fail over/, 30_000);
    tmux.keys('/');
    await tmux.waitFor(/filter> /, 10_000);
    tmux.keys('C-u');
    tmux.type('tracker-002');
    tmux.keys('Enter');
    await tmux.waitFor(/tracker-002 +tracker +● online · on local-1/, 60_000);

    tmux.keys('q');
    const after = await tmux.waitFor(/DASHBOARD EXITED: (\d+)/, 30_000);
    expect(after).toMatch(/DASHBOARD EXITED: 0/);
    for (const [name, pid] of Object.entries(pids))
      expect({ name, alive: isAlive(pid) }).toEqual({ name, alive: false });
    expect(processesMatching(stateDir)).toEqual([]);
  }, 300_000);

  it('closing its terminal (SIGHUP) leaves no node and no redis-server behind', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-cluster-hup-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const scriptDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-cluster-hup-script-'));
    cleanups.push(() => rm(scriptDir, { recursive: true, force: true }));
    const script = join(scriptDir, 'run.sh');
    await writeFile(
      script,
      `cd '${REPO}'\nnode bin/certfleet.js ui --cluster 2 --sensors 1 --state-dir '${stateDir}'\nsleep 600\n`,
    );
    const tmux = TmuxSession.start(`certfleet-cluster-hup-${process.pid}`, `sh ${script}`);
    cleanups.push(() => tmux.kill());
    await tmux.waitFor((s) => Number(/● online (\d+)/.exec(s)?.[1] ?? 0) >= 1, 150_000);
    const pids = JSON.parse(await readFile(join(stateDir, PID_FILE), 'utf8')) as Record<string, number>;
    cleanups.push(() => {
      for (const pid of Object.values(pids)) if (isAlive(pid)) process.kill(pid, 'SIGKILL'); // if the test failed
    });
    expect(isAlive(pids.redis!)).toBe(true);
    tmux.kill(); // SIGHUP to everything in the terminal (Redis ignores it: only its lifeline stops it)
    const deadline = Date.now() + 20_000;
    while (Object.values(pids).some(isAlive) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    for (const [name, pid] of Object.entries(pids))
      expect({ name, alive: isAlive(pid) }).toEqual({ name, alive: false });
  }, 240_000);
});
