/**
 * `certfleet` on a terminal: PKI on first run (with progress), the broker as a child process, the dashboard's mTLS
 * client and the PKI in worker threads, a small mixed demo fleet, then the Ink dashboard. Quitting (q, Ctrl-C,
 * SIGTERM, SIGHUP) restores the terminal and stops every child process and worker.
 */
import { X509Certificate } from 'node:crypto';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { render } from 'ink';
import { createElement } from 'react';
import { UserError } from '../../core/user-error.ts';
import { auditFileExplainer } from '../../devices/explain.ts';
import { Fleet } from '../../devices/fleet.ts';
import { generateRogueKit, initPki, pkiLayout, showIdentity } from '../../pki/index.ts';
import { App } from '../App.tsx';
import type { RogueKind } from '../catalogue.ts';
import { FleetStore } from '../store/fleet-store.ts';
import { AuditExplainer, firstExplanation } from './audit-explainer.ts';
import { startBroker } from './broker-process.ts';
import { CleanupStack } from './cleanup.ts';
import { startDashboardClient } from './dashboard-client.ts';
import { DEMO_FLEET } from './demo-fleet.ts';
import { LiveControls } from './live-controls.ts';
import { startTrace } from './trace.ts';
import { startTsWorker } from './ts-worker.ts';
import { rpcClient } from './worker-rpc.ts';

const AUDIT_TOPIC = '$SYS/certfleet/audit';
/** Where the dashboard records the processes it started, so tests (and people) can check none outlives it. */
export const PID_FILE = 'dashboard.pids.json';
const ALT_SCREEN_ON = '\u001b[?1049h';
const ALT_SCREEN_OFF = '\u001b[?1049l';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

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
  const onCrash = (error: unknown) => {
    failure ??= error instanceof Error ? error : new Error(String(error));
    void quit();
  };
  process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);

  try {
    // A quit (signal) during start-up: stop at the next step; what was started is stopped by the cleanup.
    const checkpoint = () => {
      if (quitting) throw new StartupInterrupted();
    };
    const { created } = await initPki(stateDir, { onProgress: (message) => say(message) });
    checkpoint();
    say(created ? `created the PKI in ${stateDir}` : `using the PKI in ${stateDir}`);
    await generateRogueKit(stateDir);
    checkpoint();

    say('starting the broker…');
    // Data-driven repaints at most 4 times a second: a full Ink frame of a large terminal costs tens of ms of CPU,
    // and keystrokes repaint at once anyway (Ink's own cap, maxFps below, applies to them).
    const store = new FleetStore({ frameMs: 250 });
    const broker = await startBroker({
      stateDir,
      onLine: (line, stream) => {
        if (stream === 'stderr') store.note(`broker: ${line}`, 'warn');
      },
    });
    cleanup.add('broker', () => broker.stop());
    broker.child.once('exit', (code, signal) => {
      if (quitting) return;
      const how = signal ?? `code ${code}`;
      const words = broker.lastWords();
      store.setBrokerDown(`stopped unexpectedly (${how})${words.length ? `: ${words.at(-1)}` : ''}`);
      const log = join(stateDir, 'dashboard-broker.log');
      store.note(`the broker stopped unexpectedly (${how}); its last output is in ${log}`, 'error');
      void appendFile(log, `${new Date().toISOString()} broker exited (${how})\n${words.join('\n')}\n`);
    });
    const pidFile = join(stateDir, PID_FILE);
    await writeFile(pidFile, JSON.stringify({ dashboard: process.pid, broker: broker.child.pid }));
    cleanup.add('pid file', () => rm(pidFile, { force: true }));
    say(`broker listening on ${broker.host}:${broker.port}`);
    checkpoint();

    const root = new X509Certificate(await readFile(pkiLayout(stateDir).rootCert));
    store.setBroker({
      host: broker.host,
      port: broker.port,
      tlsVersions: typeof broker.ready.tls === 'string' ? broker.ready.tls : undefined,
      caFingerprint: root.fingerprint256,
      startedAt: Date.now(),
    });

    const explainer = new AuditExplainer();
    let auditReady: () => void = () => {};
    const subscribed = new Promise<void>((resolve) => {
      auditReady = resolve;
    });
    const dashboard = await showIdentity(stateDir, 'dashboard');
    const client = startDashboardClient(
      {
        host: broker.host,
        port: broker.port,
        chain: dashboard.paths.chain,
        key: dashboard.paths.key,
        ca: dashboard.paths.ca,
        topics: [AUDIT_TOPIC, 'devices/+/replies'],
      },
      (message) => {
        if (message.type === 'status') {
          if (message.subscribed) {
            store.note('dashboard connected to the broker over mTLS (CN dashboard), reading the audit feed');
            auditReady();
          } else if (message.detail) store.note(`dashboard client: ${message.detail}`, 'warn');
          return;
        }
        for (const { topic, payload } of message.batch) {
          if (topic === AUDIT_TOPIC) {
            explainer.observe(payload);
            store.applyAudit(payload);
          } else store.applyReply(topic, payload);
        }
      },
    );
    cleanup.add('dashboard client', () => client.stop());
    // Devices start once the audit feed is read: the broker's record of a first refusal must not be missed.
    say('connecting the dashboard to the broker (mTLS, CN dashboard)…');
    const late = await Promise.race([subscribed.then(() => false), delay(15_000).then(() => true)]);
    if (late)
      store.note('the dashboard has not reached the audit feed yet; starting the fleet anyway', 'warn');
    checkpoint();

    const pkiWorker = startTsWorker(new URL('./pki-worker.ts', import.meta.url));
    cleanup.add('pki worker', () => pkiWorker.terminate());
    const auditFile =
      typeof broker.ready.auditFile === 'string' ? broker.ready.auditFile : join(stateDir, 'audit.jsonl');
    const fleet = new Fleet({
      stateDir,
      // The audit feed first; the audit file if the feed missed the record (QoS 0 under load).
      explain: firstExplanation(explainer.explainer(), auditFileExplainer(auditFile, { waitMs: 0 })),
    });
    cleanup.add('fleet', () => fleet.stop());
    fleet.subscribe((events) => {
      for (const event of events) {
        if (event.type === 'error' && event.id === '*') store.note(`fleet: ${event.message}`, 'error');
        else store.applyDeviceEvent(event);
      }
    });
    const controls = new LiveControls({
      stateDir,
      fleet,
      pki: rpcClient(pkiWorker),
      broker: { host: broker.host, port: broker.port, servername: 'localhost' },
      intervalMs: options.intervalMs ?? DEMO_FLEET.intervalMs,
      publish: client.publish,
      quit,
    });
    process.stdout.write(ALT_SCREEN_ON);
    cleanup.add('terminal', () => process.stdout.write(ALT_SCREEN_OFF));
    const trace = startTrace(process.env.CERTFLEET_UI_TRACE);
    cleanup.add('trace', () => trace.stop());
    const ink = render(createElement(App, { store, controls }), {
      onRender: (metrics) => trace.frame(metrics.renderTime),
      exitOnCtrlC: false, // Ctrl-C is a key like q: it stops the children first
      maxFps: 60, // Ink's own cap: the store already limits data-driven repaints, keys should not wait
    });
    // If the dashboard itself fails (a bug), still stop everything and say what happened.
    ink.waitUntilExit().then(
      () => void quit(),
      (error: Error) => {
        failure = error;
        void quit();
      },
    );
    cleanup.add('ink', () => {
      ink.unmount();
      store.dispose();
    });
    // The dashboard is up; the demo fleet's certificates are issued (in the PKI worker) while it shows.
    const sensors = options.sensors ?? DEMO_FLEET.sensors;
    store.note(`issuing certificates for ${sensors} sensors and starting the demo fleet…`);
    controls.start(sensors, DEMO_FLEET.profiles, options.rogues ?? DEMO_FLEET.rogues).then(
      (ids) => store.note(`started ${ids.length} devices: select one to see its handshake`),
      (error: Error) => {
        if (!quitting) store.note(`could not start the demo fleet: ${error.message}`, 'error');
      },
    );
    await stopped;
    if (failure) throw failure;
    say(`stopped the broker (pid ${broker.child.pid}), the fleet's workers and the dashboard client`);
  } catch (error) {
    await quit();
    if (error instanceof StartupInterrupted) return;
    throw error;
  }
}

class StartupInterrupted extends Error {}
