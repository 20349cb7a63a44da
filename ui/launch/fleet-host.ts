/**
 * The dashboard's fleet host: a child process of the dashboard that runs everything behind the screen except the
 * broker — the dashboard's own mTLS client (audit feed, replies, commands), the PKI (issuing, revoking, in a worker)
 * and the fleet (devices in worker threads). The UI process then holds only the screen and its view model: the
 * devices' sockets, TLS state and garbage never share its heap or its event loop.
 *
 * It talks to the UI process over the IPC channel: FleetControls as RPC, and pushed messages (HostMessage) for device
 * events, audit records, replies and progress notes. When the UI process goes away (even by SIGKILL) the channel
 * closes and the host stops its devices and exits.
 */
import { AUDIT_TOPIC, type AuditRecord, parseAuditRecord } from '../../core/audit.ts';
import type { RogueKind } from '../../core/rogues.ts';
import { AuditExplainer, auditFileExplainer, firstExplanation } from '../../devices/explain.ts';
import type { DeviceEvent, DeviceProfile } from '../../devices/events.ts';
import { Fleet } from '../../devices/fleet.ts';
import type { BrokerAddress } from '../../devices/spec.ts';
import { showIdentity } from '../../pki/index.ts';
import type { LogLevel } from '../store/types.ts';
import { startDashboardClient } from './dashboard-client.ts';
import { DEMO_FLEET } from './demo-fleet.ts';
import { LiveControls } from './live-controls.ts';
import { startTsWorker } from './ts-worker.ts';
import { parentChannel, rpcClient, serveRpc } from './worker-rpc.ts';

/** What the host pushes to the UI process (besides RPC answers). */
export type HostMessage =
  | { type: 'events'; events: readonly DeviceEvent[] }
  | { type: 'audit'; records: AuditRecord[] }
  | { type: 'replies'; batch: { topic: string; payload: string }[] }
  | { type: 'note'; text: string; level: LogLevel };

export interface HostStart {
  stateDir: string;
  broker: BrokerAddress;
  /** Every node of a local cluster, `broker` first: the devices are spread over them. */
  brokers?: BrokerAddress[];
  /** The broker's audit file: explains a refusal the audit feed missed. */
  auditFile: string;
  sensors?: number;
  rogues?: RogueKind[];
  intervalMs?: number;
  /** New connections per second across the fleet. */
  connectRatePerSecond?: number;
}

/**
 * New connections per second at start-up (the fleet's default is 50: 1,000 devices would take 20 s by the cap alone).
 * The broker's per-address bounds (500 connections/s, 1,024 pending handshakes, broker/limits.ts) are well above it,
 * and a device retries a handshake the broker shed under load. On this machine the devices' own TLS work, not this
 * cap, is what bounds the start-up (see README, dashboard).
 */
export const DASHBOARD_CONNECT_RATE = 100;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

const channel = parentChannel();
const push = (message: HostMessage) => channel.postMessage(message);
const note = (text: string, level: LogLevel = 'info') => push({ type: 'note', text, level });

let controls: LiveControls | undefined;
const stops: Array<() => unknown> = [];

async function start(options: HostStart): Promise<string[]> {
  const { stateDir, broker } = options;
  // The dashboard's own client: it reads the audit feed, and devices start only once it does, so the broker's record
  // of a first refusal is not missed.
  note('connecting the dashboard to the broker (mTLS, CN dashboard)…');
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
          note('dashboard connected to the broker over mTLS (CN dashboard), reading the audit feed');
          auditReady();
        } else if (message.detail) note(`dashboard client: ${message.detail}`, 'warn');
        return;
      }
      if (message.type !== 'messages') return;
      const records: AuditRecord[] = [];
      const replies: { topic: string; payload: string }[] = [];
      for (const entry of message.batch) {
        if (entry.topic !== AUDIT_TOPIC) {
          replies.push(entry);
          continue;
        }
        const record = parseAuditRecord(entry.payload);
        if (!record) continue;
        explainer.observe(record);
        records.push(record);
      }
      if (records.length > 0) push({ type: 'audit', records });
      if (replies.length > 0) push({ type: 'replies', batch: replies });
    },
  );
  stops.push(() => client.stop());
  // The PKI worker and the fleet's workers load their code meanwhile, and the first certificates are issued: only
  // the devices' first connections wait for the audit feed.
  const auditFeed = Promise.race([subscribed.then(() => false), delay(15_000).then(() => true)]).then(
    (late) => {
      if (late) note('the dashboard has not reached the audit feed yet; starting the fleet anyway', 'warn');
    },
  );

  const pkiWorker = startTsWorker(new URL('./pki-worker.ts', import.meta.url));
  stops.push(() => pkiWorker.terminate());
  const fleet = new Fleet({
    stateDir,
    connectRatePerSecond: options.connectRatePerSecond ?? DASHBOARD_CONNECT_RATE,
    // The audit feed first; the audit file if the feed missed the record (QoS 0 under load).
    explain: firstExplanation(explainer.explain, auditFileExplainer(options.auditFile, { waitMs: 0 })),
  });
  stops.push(() => fleet.stop());
  fleet.subscribe((events) => {
    const forward: DeviceEvent[] = [];
    for (const event of events) {
      if (event.type === 'error' && event.id === '*') note(`fleet: ${event.message}`, 'error');
      else forward.push(event);
    }
    if (forward.length > 0) push({ type: 'events', events: forward });
  });
  controls = new LiveControls({
    stateDir,
    fleet,
    pki: rpcClient(pkiWorker),
    broker,
    ...(options.brokers && { brokers: options.brokers }),
    intervalMs: options.intervalMs ?? DEMO_FLEET.intervalMs,
    publish: client.publish,
    quit: async () => {},
    beforeFirstLaunch: auditFeed,
  });
  const sensors = options.sensors ?? DEMO_FLEET.sensors;
  note(`issuing certificates for ${sensors} sensors and starting the demo fleet…`);
  const planned = performance.now();
  const ids = await controls.start(sensors, DEMO_FLEET.profiles, options.rogues ?? DEMO_FLEET.rogues);
  const seconds = ((performance.now() - planned) / 1000).toFixed(1);
  note(
    `started ${ids.length} devices (their certificates were ready in ${seconds} s): select one to see its handshake`,
  );
  return ids;
}

function live(): LiveControls {
  if (!controls) throw new Error('the fleet has not started yet');
  return controls;
}

let stopping: Promise<void> | undefined;
/** Stops the devices (clean DISCONNECTs), the dashboard client and the PKI worker, newest first. */
function stop(): Promise<void> {
  stopping ??= (async () => {
    for (const step of stops.reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
  })();
  return stopping;
}

serveRpc(channel, {
  start,
  addDevices: (profile: DeviceProfile, count: number) => live().addDevices(profile, count),
  addRogue: (kind: RogueKind) => live().addRogue(kind),
  remove: (id: string) => live().remove(id),
  setPaused: (id: string, paused: boolean) => live().setPaused(id, paused),
  sendCommand: (id: string, command: string) => live().sendCommand(id, command),
  revoke: (id: string) => live().revoke(id),
  certificate: (id: string) => live().certificate(id),
  connection: (id: string) => live().connection(id),
  stop,
});

// The UI process is gone (quit, crash, SIGKILL): nothing is left to show the fleet to.
process.on('disconnect', () => {
  const deadline = setTimeout(() => process.exit(0), 5000);
  deadline.unref();
  void stop().then(() => process.exit(0));
});
// The dashboard's terminal signals reach the whole process group: the UI process decides when the host stops.
for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => {});
process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
channel.postMessage({ type: 'ready' });
