/**
 * kill -9 of the broker under a running fleet (`certfleet devices run` against it): the devices back off, come
 * back when a broker returns on the same port, and when the fleet's run ends no process is left behind.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';
import { type Cleanups, report, runAll, sleep, startChildBroker } from '../helpers/fault-broker.ts';
import { CERTFLEET } from '../helpers/pki-fixture.ts';

const DEVICES = 5;

let pki: PkiFixture;
const cleanups: Cleanups = [];
beforeAll(async () => {
  pki = await makePki();
}, 60_000);
afterAll(() => pki?.cleanup());
afterEach(() => runAll(cleanups));

/** Processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {}
  }
  return children;
}

it('the fleet survives kill -9 of its broker and reconnects to the one that replaces it', async () => {
  const first = await startChildBroker(pki.stateDir, ['--quiet'], cleanups);
  const port = first.port;
  const fleet = spawn(
    process.execPath,
    [
      CERTFLEET,
      '--state-dir',
      pki.stateDir,
      'devices',
      'run',
      '--count',
      String(DEVICES),
      '--broker',
      `mqtts://127.0.0.1:${port}`,
      '--duration',
      '30s',
      '--interval',
      '500ms',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => {
    if (fleet.exitCode === null) fleet.kill('SIGKILL');
  });
  let stdout = '';
  fleet.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const fleetExit = new Promise<number | null>((resolve) => fleet.once('exit', (code) => resolve(code)));
  const online = async (broker: typeof first, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ids = new Set(
        (await broker.audit()).filter((r) => r.event === 'connection-accepted').map((r) => r.cn),
      );
      if (ids.size >= DEVICES || Date.now() > deadline) return ids.size;
      await sleep(100);
    }
  };
  expect(await online(first, 20_000)).toBe(DEVICES);

  first.child.kill('SIGKILL');
  const killedAt = Date.now();
  await first.exited;
  await sleep(1500); // the devices find nothing for a while and back off
  const second = await startChildBroker(pki.stateDir, ['--quiet'], cleanups, port);
  const back = await online(second, 15_000);
  const recoveredMs = Date.now() - killedAt;
  const telemetryAfter = (await second.audit()).length;

  const code = await Promise.race([fleetExit, sleep(40_000).then(() => 'timeout' as const)]);
  await sleep(300);
  report('kill -9 of the broker under devices run', {
    devices: DEVICES,
    backOnline: back,
    recoveredMs,
    fleetExit: code,
    orphans: childrenOf(fleet.pid!).length,
  });
  expect(back).toBe(DEVICES);
  expect(telemetryAfter).toBeGreaterThan(DEVICES);
  expect(code).toBe(0);
  expect(JSON.parse(stdout.slice(stdout.indexOf('{')))).toBeTruthy();
  expect(childrenOf(fleet.pid!)).toEqual([]); // nothing left behind by the fleet
  expect(second.alive()).toBe(true);
}, 120_000);
