/**
 * `certfleet` on a terminal: the PKI on first run (with progress on the console), then the dashboard at once, while
 * the broker and the fleet host (child processes: the devices, the dashboard's mTLS client and the PKI worker) and a
 * small mixed demo fleet start behind it. Quitting (q, Ctrl-C, SIGTERM, SIGHUP) restores the terminal and stops every child process and
 * worker; so does a failure, which is then reported.
 */
import { UserError } from '../../core/user-error.ts';
import { generateRogueKit, initPki } from '../../pki/index.ts';
import type { RogueKind } from '../../core/rogues.ts';
import { FleetStore } from '../store/fleet-store.ts';
import { bringUp, StartupInterrupted } from './bring-up.ts';
import { CleanupStack } from './cleanup.ts';
import { DeferredControls } from './deferred-controls.ts';
import { startTrace } from './trace.ts';

export { PID_FILE } from './bring-up.ts';

const ALT_SCREEN_ON = '\u001b[?1049h';
const ALT_SCREEN_OFF = '\u001b[?1049l';

function say(line: string): void {
  process.stdout.write(`certfleet: ${line}\n`);
}

export interface DashboardOptions {
  /** Demo sensors to start with (default 8). */
  sensors?: number;
  /** Rogue kinds to start with (default: a revoked certificate and a client-id spoof). */
  rogues?: RogueKind[];
  /** Telemetry interval of the demo sensors, ms. */
  intervalMs?: number;
  /** The broker's port (default: any free one). */
  port?: number;
  /** A local cluster of this many broker nodes (with a redis-server of its own unless `redis` is given). */
  cluster?: number;
  redis?: string;
}

export async function runDashboard(stateDir: string, options: DashboardOptions = {}): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UserError(
      'cannot open the dashboard',
      'it needs an interactive terminal, and stdin or stdout is not one',
      'Run the headless fleet instead, e.g.:\n  certfleet devices run --count 20 --rogue expired --duration 30s\nor run `npm start` in a terminal.',
    );
  }
  const cleanup = new CleanupStack();
  const stopped = new Promise<void>((resolve) => cleanup.add('resolve', resolve));
  let quitting = false;
  let failure: Error | undefined;
  const quit = async () => {
    if (quitting) return stopped;
    quitting = true;
    await cleanup.run();
  };
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.once(signal, () => void quit());
  // A bug anywhere must not leave the broker or the terminal behind: stop everything, then report it.
  const fail = (error: unknown) => {
    failure ??= error instanceof Error ? error : new Error(String(error));
    void quit();
  };
  process.on('uncaughtException', fail).on('unhandledRejection', fail);

  // First run: the root CA's RSA-3072 key takes a moment; say what is happening before the screen switches.
  const { created } = await initPki(stateDir, { onProgress: (message) => say(message) });
  say(created ? `created the PKI in ${stateDir}` : `using the PKI in ${stateDir}`);
  await generateRogueKit(stateDir);
  if (quitting) return stopped;

  // Data-driven repaints at most 4 times a second: a full Ink frame of a large terminal costs tens of ms of CPU,
  // and keystrokes repaint at once anyway (Ink's own cap, maxFps below, applies to them).
  const store = new FleetStore({ frameMs: 250 });
  const ready = bringUp({ ...options, stateDir, store, cleanup, quit, quitting: () => quitting });
  ready.catch((error: unknown) => {
    if (!(error instanceof StartupInterrupted)) fail(error);
  });

  say('starting the broker and opening the dashboard…');
  // Ink and React take seconds to load on a busy machine: load them while the broker process starts.
  // Before Ink loads: its text measuring remembered and bounded (ui/ink/hooks.js).
  const { installInkHooks, installRowCache } = await import('../ink/install.ts');
  installInkHooks();
  const [{ render }, { createElement }, { App }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../App.tsx'),
  ]);
  // Ink composes every frame cell by cell; the row cache composes only the rows that changed.
  await installRowCache();
  if (quitting) return stopped;

  process.stdout.write(ALT_SCREEN_ON);
  cleanup.add('terminal', () => process.stdout.write(ALT_SCREEN_OFF));
  const trace = startTrace(process.env.CERTFLEET_UI_TRACE);
  cleanup.add('trace', () => trace.stop());
  const ink = render(createElement(App, { store, controls: new DeferredControls(ready, quit) }), {
    onRender: (metrics) => trace.frame(metrics.renderTime),
    exitOnCtrlC: false, // Ctrl-C is a key like q: it stops the children first
    maxFps: 60, // Ink's own cap: the store already limits data-driven repaints, keys should not wait
    // Not incrementalRendering: it writes only changed lines (2.4 → 0.9 KB per frame at 160×45) but positions them
    // relative to a cursor it assumes, and in tmux frames landed a row low, leaving stale lines (Ink 6.8).
  });
  // If the dashboard itself fails (a bug), still stop everything and say what happened.
  ink.waitUntilExit().then(() => void quit(), fail);
  cleanup.add('ink', () => {
    ink.unmount();
    store.dispose();
  });

  await stopped;
  if (failure) throw failure;
  say('stopped the broker, the fleet and its workers, and the dashboard client');
}
