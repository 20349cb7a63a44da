/**
 * The dashboard's frame cost in-process, without a terminal: App over a synthetic fleet of N devices rendered by
 * Ink into a fake TTY of a given size; each key is timed from stdin to Ink's write. Isolates the UI's own cost from
 * the machine's load and the fleet's (what `npm run bench -- ui` measures end to end). For profiling:
 *   NODE_ENV=production node --cpu-prof --import tsx bench/lib/ui-frame-cost.tsx 160 45 1000 [--no-row-cache] [--no-ink-hooks]
 */
import { EventEmitter } from 'node:events';
import { createElement } from 'react';
import type { FleetControls } from '../../ui/controls.ts';
import { installInkHooks, installRowCache } from '../../ui/ink/install.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';

class FakeStdout extends EventEmitter {
  isTTY = true;
  bytes = 0;
  writes = 0;
  onWrite?: () => void;
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    super();
  }
  write = (chunk: string) => {
    this.bytes += chunk.length;
    this.writes++;
    this.onWrite?.();
    return true;
  };
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write(data: string) {
    this.data = data;
    this.emit('readable');
  }
  read = () => {
    const { data } = this;
    this.data = null;
    return data;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

const controls: FleetControls = {
  addDevices: async () => ['x'],
  addRogue: async () => 'x',
  remove: async () => {},
  setPaused: async () => {},
  sendCommand: async () => {},
  revoke: async () => {},
  certificate: async () => null,
  connection: async () => null,
  quit: async () => {},
};

export async function frameCost(
  columns: number,
  rows: number,
  devices: number,
  keys = 60,
  incrementalRendering = false,
) {
  // Loaded here, not at the top: the Ink hooks (if any) must be registered first.
  const [{ render }, { App }] = await Promise.all([import('ink'), import('../../ui/App.tsx')]);
  const store = new FleetStore({ frameMs: 250 });
  store.setBroker({ host: '127.0.0.1', port: 8883, startedAt: Date.now(), caFingerprint: 'AA:BB' });
  for (let i = 0; i < devices; i++) {
    const id = `sensor-${String(i).padStart(4, '0')}`;
    store.applyDeviceEvent({ type: 'added', device: { id, kind: 'climate', rogue: false }, at: Date.now() });
    store.applyDeviceEvent({ type: 'state', id, state: 'online', previous: 'mqtt-connect', at: Date.now() });
  }
  const stdout = new FakeStdout(columns, rows);
  const stdin = new FakeStdin();
  let frames = 0;
  const ink = render(createElement(App, { store, controls }), {
    onRender: () => {
      frames++;
    },
    incrementalRendering,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 60,
  });
  // Telemetry of every device every 2 s, as in the end-to-end bench.
  let tick = 0;
  const telemetry = setInterval(() => {
    for (let i = tick % 20; i < devices; i += 20) {
      const id = `sensor-${String(i).padStart(4, '0')}`;
      store.applyDeviceEvent({
        type: 'telemetry',
        id,
        seq: tick,
        reading: { temperature: 20 + Math.random(), humidity: 50 },
        at: Date.now(),
      });
    }
    tick++;
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const sequence = [
    'j',
    'j',
    'j',
    '\u001B[6~',
    'j',
    'k',
    '\u001B[5~',
    '\u001B[F',
    '\u001B[H',
    '\t',
    '\u001B[A',
    '\t',
  ];
  const latencies: number[] = [];
  const bytesBefore = stdout.bytes;
  const writesBefore = stdout.writes;
  const framesBefore = frames;
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < keys; i++) {
    const at = performance.now();
    const written = new Promise<void>((resolve) => {
      stdout.onWrite = () => {
        stdout.onWrite = undefined;
        resolve();
      };
    });
    stdin.write(sequence[i % sequence.length] as string);
    await written;
    latencies.push(performance.now() - at);
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  const cpu = process.cpuUsage(cpuBefore);
  const framesDone = frames - framesBefore;
  clearInterval(telemetry);
  ink.unmount();
  store.dispose();
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    size: `${columns}×${rows}`,
    devices,
    p50: p(0.5),
    p95: p(0.95),
    bytesPerWrite: (stdout.bytes - bytesBefore) / (stdout.writes - writesBefore),
    frames: framesDone,
    /** CPU of the whole run (keys, data frames, telemetry reduction) per frame drawn: robust to the machine's load. */
    cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / framesDone,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // As the dashboard runs (run it with NODE_ENV=production, as the dashboard sets it, for React's production build):
  // Ink's text measuring remembered (--no-ink-hooks: without), its output through the row cache (--no-row-cache).
  if (!process.argv.includes('--no-ink-hooks')) installInkHooks();
  if (!process.argv.includes('--no-row-cache')) await installRowCache();
  const [columns = 160, rows = 45, devices = 1000] = process.argv
    .slice(2)
    .filter((arg) => !arg.startsWith('--'))
    .map(Number);
  console.log(await frameCost(columns, rows, devices, 60, process.argv.includes('--incremental')));
}
