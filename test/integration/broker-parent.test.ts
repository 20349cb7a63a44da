import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initPki } from '../../pki/index.ts';
import { CERTFLEET, makeStateDir } from '../helpers/pki-fixture.ts';

let stateDir: string;
let cleanup: () => Promise<void>;
const started: number[] = [];

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir());
  await initPki(stateDir);
}, 120_000);

afterAll(async () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await cleanup?.();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('a broker started with --stop-with-parent exits when its parent is SIGKILLed', async () => {
  // The parent spawns the broker the way the dashboard does, prints the broker's pid, and is then killed outright.
  const parentScript = `
    const { spawn } = require('node:child_process');
    const broker = spawn(process.execPath, [${JSON.stringify(CERTFLEET)}, '--state-dir', ${JSON.stringify(stateDir)}, 'broker', '--port', '0', '--json-ready', '--stop-with-parent'], { stdio: ['pipe', 'pipe', 'inherit'] });
    broker.stdout.once('data', (line) => process.stdout.write(line));
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(parent.pid!);
  const ready = await new Promise<{ event: string; pid: number }>((resolve, reject) => {
    parent.stdout.once('data', (line: Buffer) => resolve(JSON.parse(line.toString())));
    parent.once('exit', () => reject(new Error('parent exited before the broker was ready')));
  });
  started.push(ready.pid);
  expect(ready.event).toBe('listening');
  expect(alive(ready.pid)).toBe(true);
  parent.kill('SIGKILL');
  const deadline = Date.now() + 15_000;
  while (alive(ready.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(alive(ready.pid)).toBe(false);
}, 60_000);
