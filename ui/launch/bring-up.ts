/**
 * Everything behind the dashboard, started while it already shows: the broker and the fleet host (the dashboard's own
 * mTLS client, the PKI worker and the devices' worker threads) as child processes, then the demo fleet. Each piece
 * registers its stop with the cleanup stack the moment it exists; progress goes to the dashboard's log.
 */
import { X509Certificate } from 'node:crypto';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pkiLayout } from '../../pki/index.ts';
import type { RogueKind } from '../../core/rogues.ts';
import type { FleetControls } from '../controls.ts';
import type { FleetStore } from '../store/fleet-store.ts';
import type { CleanupStack } from './cleanup.ts';
import { startDashboardBroker } from './cluster-broker.ts';
import type { HostMessage } from './fleet-host.ts';
import { startFleetHost } from './fleet-host-process.ts';

/** Where the dashboard records the processes it started, so tests (and people) can check none outlives it. */
export const PID_FILE = 'dashboard.pids.json';

export interface BringUpOptions {
  stateDir: string;
  store: FleetStore;
  cleanup: CleanupStack;
  /** True once the user asked to quit: start-up stops at the next step. */
  quitting: () => boolean;
  quit: () => Promise<void>;
  sensors?: number;
  rogues?: RogueKind[];
  intervalMs?: number;
  /** The broker's port (0 or absent: any free port). */
  port?: number;
  /** A local cluster of this many broker nodes instead of one broker (cluster-broker.ts). */
  cluster?: number;
  /** The cluster's Redis (absent: a redis-server of its own). */
  redis?: string;
}

export class StartupInterrupted extends Error {}

export async function bringUp(options: BringUpOptions): Promise<FleetControls> {
  const { stateDir, store, cleanup } = options;
  const checkpoint = () => {
    if (options.quitting()) throw new StartupInterrupted();
  };

  store.note('starting the broker…');
  // Everything but the broker (the dashboard's own mTLS client, the PKI, the devices) runs in the fleet host, a child
  // process: this process keeps only the screen and its view model. It loads its modules while the broker starts.
  const hostStarting = startFleetHost(stateDir, (message) => apply(store, message));
  hostStarting.then(
    (host) => cleanup.add('fleet host', () => host.stop()),
    () => undefined,
  );
  const broker = await startDashboardBroker({
    stateDir,
    port: options.port,
    cluster: options.cluster,
    redis: options.redis,
    onLine: (line, stream) => {
      if (stream === 'stderr') store.note(`broker: ${line}`, 'warn');
    },
  });
  cleanup.add('broker', () => broker.stop());
  broker.child.once('exit', (code, signal) => {
    if (options.quitting()) return;
    const how = signal ?? `code ${code}`;
    const words = broker.lastWords();
    store.setBrokerDown(`stopped unexpectedly (${how})${words.length ? `: ${words.at(-1)}` : ''}`);
    const log = join(stateDir, 'dashboard-broker.log');
    store.note(`the broker stopped unexpectedly (${how}); its last output is in ${log}`, 'error');
    void appendFile(log, `${new Date().toISOString()} broker exited (${how})\n${words.join('\n')}\n`);
  });
  const pidFile = join(stateDir, PID_FILE);
  await writeFile(pidFile, JSON.stringify({ dashboard: process.pid, ...broker.pids }));
  if (broker.description) store.note(`started ${broker.description}`);
  cleanup.add('pid file', () => rm(pidFile, { force: true }));
  const root = new X509Certificate(await readFile(pkiLayout(stateDir).rootCert));
  store.setBroker({
    host: broker.host,
    port: broker.port,
    tlsVersions: typeof broker.ready.tls === 'string' ? broker.ready.tls : undefined,
    caFingerprint: root.fingerprint256,
    startedAt: Date.now(),
  });
  checkpoint();

  const host = await hostStarting;
  host.child.once('exit', (code, signal) => {
    if (options.quitting()) return;
    const words = host.lastWords();
    store.note(
      `the fleet host stopped unexpectedly (${signal ?? `code ${code}`})${words.length ? `: ${words.at(-1)}` : ''}`,
      'error',
    );
  });
  await writeFile(pidFile, JSON.stringify({ dashboard: process.pid, ...broker.pids, fleet: host.child.pid }));
  checkpoint();
  const auditFile =
    typeof broker.ready.auditFile === 'string' ? broker.ready.auditFile : join(stateDir, 'audit.jsonl');
  await host
    .start({
      stateDir,
      broker: { host: broker.host, port: broker.port, servername: 'localhost' },
      ...(broker.nodes && { brokers: [...broker.nodes] }),
      auditFile,
      ...(options.sensors !== undefined && { sensors: options.sensors }),
      ...(options.rogues && { rogues: options.rogues }),
      ...(options.intervalMs !== undefined && { intervalMs: options.intervalMs }),
    })
    .catch((error: unknown) => {
      checkpoint(); // a quit in the middle stopped the host: not a failure
      throw error;
    });
  return host.controls(options.quit);
}

/** What the fleet host pushes, into the view model. */
function apply(store: FleetStore, message: HostMessage): void {
  switch (message.type) {
    case 'events':
      for (const event of message.events) store.applyDeviceEvent(event);
      break;
    case 'audit':
      for (const record of message.records) store.applyAudit(record);
      break;
    case 'replies':
      for (const { topic, payload } of message.batch) store.applyReply(topic, payload);
      break;
    case 'note':
      store.note(message.text, message.level);
      break;
  }
}
