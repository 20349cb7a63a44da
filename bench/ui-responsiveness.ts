/**
 * Dashboard responsiveness with many devices, in a real terminal (tmux 160×45):
 *   node --import tsx bench/ui-responsiveness.ts [devices=1000]
 * Starts `certfleet ui --sensors N` on a fresh state dir, waits until (almost) all are online, then measures for 20 s
 * the UI (main) thread's CPU and the whole process's (the fleet's device workers live in the same process), and
 * sends 60 navigation keys, timing each from its arrival on stdin to the next frame written (CERTFLEET_UI_TRACE).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TmuxSession } from '../test/helpers/ui-tmux.ts';
import type { UiTrace } from '../ui/launch/trace.ts';
import { PID_FILE } from '../ui/launch/run-dashboard.ts';

const devices = Number(process.argv[2] ?? 1000);
const REPO = resolve(import.meta.dirname, '..');
const TICKS = 100; // clock ticks per second in /proc

function cpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-ui-bench-'));
const traceFile = join(stateDir, 'trace.json');
const command = `cd '${REPO}' && CERTFLEET_UI_TRACE='${traceFile}' node bin/certfleet.js ui --sensors ${devices} --interval 2s --state-dir '${stateDir}'; sleep 600`;
const tmux = TmuxSession.start(`certfleet-bench-${process.pid}`, command);
try {
  const started = Date.now();
  await tmux.waitFor((screen) => Number(/● online (\d+)/.exec(screen)?.[1] ?? 0) >= devices * 0.98, 600_000);
  console.log(`${devices} devices online after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const pids = JSON.parse(await readFile(join(stateDir, PID_FILE), 'utf8')) as { dashboard: number };
  const thread = `/proc/${pids.dashboard}/task/${pids.dashboard}/stat`;
  const whole = `/proc/${pids.dashboard}/stat`;
  process.kill(pids.dashboard, 'SIGUSR2'); // the dashboard's own window (latencies, frame times) starts with ours
  const t0 = { ui: cpuSeconds(thread), all: cpuSeconds(whole), at: Date.now() };
  const keys = ['j', 'j', 'j', 'PageDown', 'j', 'k', 'PageUp', 'End', 'Home', 'Tab', 'Up', 'Tab'];
  for (let i = 0; i < 60; i++) {
    tmux.keys(keys[i % keys.length] as string);
    await sleep(333);
  }
  const t1 = { ui: cpuSeconds(thread), all: cpuSeconds(whole), at: Date.now() };
  const wall = (t1.at - t0.at) / 1000;
  console.log(
    `window ${wall.toFixed(1)} s: UI thread CPU ${((100 * (t1.ui - t0.ui)) / wall).toFixed(1)}% of a core,`,
  );
  console.log(
    `  whole process (UI + ${devices} devices in worker threads) ${((100 * (t1.all - t0.all)) / wall).toFixed(1)}%`,
  );
  console.log(tmux.capture());
  tmux.keys('q');
  for (let i = 0; i < 100; i++) {
    const done = await readFile(traceFile, 'utf8').catch(() => '');
    if (done) {
      const trace = JSON.parse(done) as UiTrace;
      const latencies = trace.latenciesMs;
      const frames = trace.framesMs;
      console.log(
        `Ink frames: ${frames.length}, render time p50 ${percentile(frames, 50).toFixed(1)} ms, p95 ${percentile(frames, 95).toFixed(1)} ms`,
      );
      console.log(
        `keystroke → repaint over ${latencies.length} keys: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      );
      break;
    }
    await sleep(200);
  }
} finally {
  tmux.kill();
  await sleep(500);
  await rm(stateDir, { recursive: true, force: true });
}
