/**
 * Everything behind the dashboard, started while it already shows: the broker as a child process, the dashboard's
 * own mTLS client (worker thread), the PKI worker, and the fleet with its demo devices. Each piece registers its stop
 * with the cleanup stack the moment it exists; progress goes to the dashboard's log.
 */
import { X509Certificate } from 'node:crypto';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_TOPIC, parseAuditRecord } from '../../core/audit.ts';
import { AuditExplainer, auditFileExplainer, firstExplanation } from '../../devices/explain.ts';
import { Fleet } from '../../devices/fleet.ts';
import { pkiLayout, showIdentity } from '../../pki/index.ts';
import type { RogueKind } from '../../core/rogues.ts';
import type { FleetStore } from '../store/fleet-store.ts';
import { startDashboardBroker } from './cluster-broker.ts';
import type { CleanupStack } from './cleanup.ts';
import { startDashboardClient } from './dashboard-client.ts';
import { DEMO_FLEET } from './demo-fleet.ts';
import { LiveControls } from './live-controls.ts';
import { startTsWorker } from './ts-worker.ts';
import { rpcClient } from './worker-rpc.ts';

/** Where the dashboard records the processes it started, so tests (and people) can check none outlives it. */
export const PID_FILE = 'dashboard.pids.json';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

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

export async function bringUp(options: BringUpOptions): Promise<LiveControls> {
  const { stateDir, store, cleanup } = options;
  const checkpoint = () => {
    if (options.quitting()) throw new StartupInterrupted();
  };

  store.note('starting the broker…');
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

  // The dashboard's own client: it reads the audit feed, and devices start only once it does, so the broker's
  // record of a first refusal is not missed.
  store.note('connecting the dashboard to the broker (mTLS, CN dashboard)…');
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
      if (message.type !== 'messages') return;
      for (const { topic, payload } of message.batch) {
        if (topic === AUDIT_TOPIC) {
          const record = parseAuditRecord(payload);
          explainer.observe(record);
          store.applyAudit(record);
        } else store.applyReply(topic, payload);
      }
    },
  );
  cleanup.add('dashboard client', () => client.stop());
  const late = await Promise.race([subscribed.then(() => false), delay(15_000).then(() => true)]);
  if (late) store.note('the dashboard has not reached the audit feed yet; starting the fleet anyway', 'warn');
  checkpoint();

  const pkiWorker = startTsWorker(new URL('./pki-worker.ts', import.meta.url));
  cleanup.add('pki worker', () => pkiWorker.terminate());
  const auditFile =
    typeof broker.ready.auditFile === 'string' ? broker.ready.auditFile : join(stateDir, 'audit.jsonl');
  const fleet = new Fleet({
    stateDir,
    // The audit feed first; the audit file if the feed missed the record (QoS 0 under load).
    explain: firstExplanation(explainer.explain, auditFileExplainer(auditFile, { waitMs: 0 })),
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
    ...(broker.nodes && { brokers: [...broker.nodes] }),
    intervalMs: options.intervalMs ?? DEMO_FLEET.intervalMs,
    publish: client.publish,
    quit: options.quit,
  });
  // Certificates for the demo fleet are issued in the PKI worker.
  const sensors = options.sensors ?? DEMO_FLEET.sensors;
  store.note(`issuing certificates for ${sensors} sensors and starting the demo fleet…`);
  const planned = performance.now();
  const ids = await controls.start(sensors, DEMO_FLEET.profiles, options.rogues ?? DEMO_FLEET.rogues);
  const seconds = ((performance.now() - planned) / 1000).toFixed(1);
  store.note(
    `started ${ids.length} devices (their certificates were ready in ${seconds} s): select one to see its handshake`,
  );
  return controls;
}
