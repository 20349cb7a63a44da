/**
 * The long version of test/integration/cert-rotation.test.ts, run by hand (too long for CI):
 *
 *   node --import tsx bench/rotation-soak.ts [--validity 20s] [--duration 120s] [--interval 500ms]
 *
 * One device with short certificates and rotation on (default: renew at 20 % of the lifetime) stays online for the
 * whole run across several rotations; a QoS 1 subscriber (the dashboard identity) must receive every sequence number
 * it sent. Next to it, the same kind of device with rotation off must be cut at expiry with EXPIRED within 1 s. One
 * device provisions from a claim. Prints a JSON report: rotations with their timings, message counts, the expiry
 * cut's lateness, and the audit records of one rotation and of the provisioning, in order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker } from '../broker/index.ts';
import type { AuditRecord } from '../core/audit.ts';
import { parseValidity } from '../core/validity.ts';
import { SimulatedDevice } from '../devices/device.ts';
import { parseDuration } from '../core/duration.ts';
import type { DeviceEvent } from '../devices/events.ts';
import { planFleet } from '../devices/plan.ts';
import { initPki, issueClaim, showIdentity } from '../pki/index.ts';
import { readFile } from 'node:fs/promises';

const arg = (name: string, fallback: string) => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1]! : fallback;
};
const validityMs = parseValidity(arg('--validity', '20s'));
const durationMs = parseDuration(arg('--duration', '120s'));
const intervalMs = parseDuration(arg('--interval', '500ms'));

const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-soak-'));
await initPki(stateDir);
await issueClaim(stateDir, 'soak', { quota: 1, identityValidityMs: validityMs });
const broker = await startBroker({ stateDir, port: 0 });
const audit: AuditRecord[] = [];
broker.on('audit', (record) => audit.push(record));

const dashboard = await showIdentity(stateDir, 'dashboard');
const subscriber = mqtt.connect(broker.url, {
  ca: await readFile(dashboard.paths.ca),
  cert: await readFile(dashboard.paths.chain),
  key: await readFile(dashboard.paths.key),
  clientId: 'dashboard',
  protocolVersion: 4,
  reconnectPeriod: 0,
});
const received = new Map<string, Set<number>>();
subscriber.on('message', (topic, payload) => {
  const id = topic.split('/')[1]!;
  const seqs = received.get(id) ?? new Set<number>();
  seqs.add((JSON.parse(payload.toString()) as { seq: number }).seq);
  received.set(id, seqs);
});
await new Promise<void>((resolve, reject) =>
  subscriber.once('connect', () =>
    subscriber.subscribe('devices/+/telemetry', { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  ),
);

const address = { host: '127.0.0.1', port: broker.port };
const [rotating, fixed] = await planFleet({ stateDir, broker: address, count: 2, intervalMs, validityMs });
const [claimed] = await planFleet({ stateDir, broker: address, count: 1, intervalMs, claim: 'soak' });
const events: DeviceEvent[] = [];
const devices = [
  new SimulatedDevice(rotating!, (e) => events.push(e)),
  new SimulatedDevice({ ...fixed!, rotate: false }, (e) => events.push(e)),
  new SimulatedDevice(claimed!, (e) => events.push(e)),
];
const started = Date.now();
for (const device of devices) device.start();
await new Promise((resolve) => setTimeout(resolve, durationMs));
const results = devices.map((device) => device.result());
await Promise.all(devices.map((device) => device.stop()));
await new Promise((resolve) => setTimeout(resolve, 1_000)); // the last acknowledged messages reach the subscriber
subscriber.end(true);
await broker.close();

type Rotated = Extract<DeviceEvent, { type: 'rotated' }>;
const rotatedOf = (id: string) => events.filter((e): e is Rotated => e.type === 'rotated' && e.id === id);
const rotated = rotatedOf(rotating!.id);
const offline = events.filter(
  (e) => e.type === 'state' && e.id === rotating!.id && (e.state === 'rejected' || e.state === 'backing-off'),
);
const cut = audit.find((r) => r.event === 'expired-session-closed' && r.cn === fixed!.id);
const firstRotation = audit.find((r) => r.event === 'enrollment-issued' && r.cn === rotating!.id);
const rotationConnections = new Set(
  audit
    .filter((r) => r.cn === rotating!.id && firstRotation && r.ts >= firstRotation.ts)
    .slice(0, 6)
    .map((r) => r.connection),
);
const claimCn = claimed!.claim!.cn;
const brief = (r: AuditRecord) =>
  `${r.ts} #${r.connection ?? '-'} ${r.event} ${r.reason} cn=${r.cn ?? '-'} client=${r.clientId ?? '-'}${r.issued ? ` issued=${r.issued.cn}/${r.issued.serial}` : ''}${r.cert ? ` cert=${r.cert.serial}` : ''}`;
const seqOk = (id: string, sent: number) => {
  const seqs = received.get(id) ?? new Set<number>();
  return {
    sent,
    receivedUnique: seqs.size,
    missing: Array.from({ length: sent }, (_, i) => i + 1).filter((n) => !seqs.has(n)),
  };
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
process.stdout.write(
  `${JSON.stringify(
    {
      validityMs,
      durationMs,
      elapsedMs: Date.now() - started,
      rotating: {
        id: rotating!.id,
        finalState: results[0]!.state,
        leftOnline: offline.length === 0,
        rotations: rotated.length,
        requestMs: rotated.map((e) => e.requestMs),
        switchMs: rotated.map((e) => e.switchMs),
        medianRequestMs: median(rotated.map((e) => e.requestMs)),
        medianSwitchMs: median(rotated.map((e) => e.switchMs)),
        messages: results[0]!.messages,
        qos1: seqOk(rotating!.id, results[0]!.messages.sent),
      },
      rotationOff: {
        id: fixed!.id,
        finalState: results[1]!.state,
        reason: results[1]!.reason,
        cutLateMs: cut ? Date.parse(cut.ts) - Date.parse(cut.cert!.validTo) : null,
      },
      claim: {
        id: claimed!.id,
        finalState: results[2]!.state,
        rotations: rotatedOf(claimed!.id).length,
        messages: results[2]!.messages,
        qos1: seqOk(claimed!.id, results[2]!.messages.sent),
      },
      auditOfOneRotation: audit
        .filter((r) => rotationConnections.has(r.connection) && r.cn === rotating!.id)
        .map(brief),
      auditOfProvisioning: audit
        .filter((r) => r.cn === claimCn || r.cn === claimed!.id)
        .slice(0, 6)
        .map(brief),
    },
    null,
    2,
  )}\n`,
);
await rm(stateDir, { recursive: true, force: true });
process.exit(0);
