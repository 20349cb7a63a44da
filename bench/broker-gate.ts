/**
 * What the broker's gate, policy and audit cost, per connection and per message.
 *
 * Two measurements:
 * 1. micro: the JavaScript the broker adds, timed in a loop (policy resolve + grant compile per connection,
 *    certificate summary, audit append; canPublish / canReceive per message).
 * 2. end to end: the same MQTT.js client against our broker and against a baseline — plain aedes behind a Node
 *    TLS server that verifies client certificates itself (rejectUnauthorized: true), no policy, no audit. The
 *    difference is what the gate + policy + audit add. Client and broker share one process (one core).
 *
 * Run: `npx tsx bench/broker-gate.ts [--quick]`, or as the `broker` suite of bench/run.ts.
 */
import { Aedes } from 'aedes';
import mqtt, { type IClientOptions } from 'mqtt';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { AuditLog } from '../broker/audit-log.ts';
import { startBroker } from '../broker/broker.ts';
import { readCrlBundle } from '../broker/crl-watch.ts';
import { summarizeCertificate } from '../broker/peer-certificate.ts';
import { parsePolicy } from '../broker/policy-load.ts';
import type { Grant } from '../broker/policy.ts';
import {
  DEFAULT_POLICY_YAML,
  initPki,
  issueIdentities,
  loadTrustMaterial,
  pkiLayout,
  revokeIdentity,
  showIdentity,
} from '../pki/index.ts';

function timeLoop(iterations: number, body: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < iterations / 10; i++) sink += body(i) ? 1 : 0; // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += body(i) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  if (sink < 0) console.log(sink);
  return ns;
}

function grantOf(cn: string): Grant {
  const resolved = parsePolicy(DEFAULT_POLICY_YAML, 'policy.yaml').resolve(cn);
  if ('refused' in resolved) throw new Error(resolved.refused);
  return resolved;
}

async function micro(stateDir: string, quick: boolean) {
  const n = quick ? 20_000 : 200_000;
  const policy = parsePolicy(DEFAULT_POLICY_YAML, 'policy.yaml');
  const fresh = (cn: string) => {
    const grant = policy.resolve(cn);
    if ('refused' in grant) throw new Error(grant.refused);
    return grant;
  };
  const device = grantOf('sensor-001');
  const dashboard = grantOf('dashboard');
  const x509 = new X509Certificate(await readFile((await showIdentity(stateDir, 'sensor-001')).paths.cert));
  const audit = new AuditLog(join(stateDir, 'bench-audit.jsonl'));
  const record = {
    ts: new Date().toISOString(),
    event: 'connection-accepted' as const,
    reason: 'OK' as const,
    cn: 'x',
  };
  const rows = [
    {
      what: 'per connection: policy.resolve(cn), new CN (compiles the grant)',
      ns: timeLoop(n / 10, (i) => policy.resolve(`sensor-${i}`)),
    },
    {
      what: 'per connection: policy.resolve(cn), CN seen before',
      ns: timeLoop(n, () => policy.resolve('sensor-001')),
    },
    {
      what: 'per connection: certificate summary for the audit',
      ns: timeLoop(n / 10, () => summarizeCertificate(x509)),
    },
    {
      what: 'per audit record: append to the JSONL file (write(2))',
      ns: timeLoop(n / 10, () => audit.append(record)),
    },
    {
      what: 'per publish: device canPublish (literal grant)',
      ns: timeLoop(n, () => device.canPublish('devices/sensor-001/telemetry')),
    },
    {
      what: 'per publish: device canPublish, denied',
      ns: timeLoop(n, () => device.canPublish('devices/sensor-002/telemetry')),
    },
    {
      what: 'per publish: dashboard canPublish (wildcard grant)',
      ns: timeLoop(n, (i) => dashboard.canPublish(`devices/s-${i & 1023}/commands/x`)),
    },
    {
      what: 'per delivery: dashboard canReceive (devices/+/#)',
      ns: timeLoop(n, (i) => dashboard.canReceive(`devices/s-${i & 1023}/telemetry`)),
    },
    {
      what: 'per subscribe: canSubscribe, new filter (subset check)',
      ns: timeLoop(n / 10, (i) => dashboard.canSubscribe(`devices/+/t${i}`)),
    },
    {
      what: 'per subscribe: canSubscribe "#", denied, new grant',
      ns: timeLoop(n / 10, (i) => fresh(`sensor-${i}`).canSubscribe('#')),
    },
    {
      what: 'per subscribe: canSubscribe, cached',
      ns: timeLoop(n, () => dashboard.canSubscribe('devices/+/telemetry')),
    },
  ];
  audit.close();
  return rows.map((r) => ({ ...r, us: r.ns / 1000 }));
}

interface Endpoint {
  port: number;
  close(): Promise<void>;
}

async function baseline(stateDir: string): Promise<Endpoint> {
  const trust = await loadTrustMaterial(stateDir);
  const crl = await readCrlBundle(pkiLayout(stateDir).crlBundle);
  const aedes = await Aedes.createBroker();
  const server = tls.createServer(
    {
      ca: trust.ca,
      crl: crl.crls,
      cert: trust.serverCert,
      key: trust.serverKey,
      minVersion: 'TLSv1.2',
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket) => aedes.handle(socket),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function options(stateDir: string, id: string): Promise<IClientOptions> {
  const info = await showIdentity(stateDir, id);
  const [ca, cert, key] = await Promise.all([
    readFile(info.paths.ca),
    readFile(info.paths.chain),
    readFile(info.paths.key),
  ]);
  return { ca, cert, key, clientId: id, protocolVersion: 4, reconnectPeriod: 0 };
}

/** Sequential connect → CONNACK → end; mean wall time per connection in ms. */
async function connectionCost(port: number, opts: IClientOptions, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, opts);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.endAsync();
  }
  return Number(process.hrtime.bigint() - start) / 1e6 / count;
}

/** QoS 0 publishes from a device to the dashboard; µs per message delivered. */
async function messageCost(
  port: number,
  device: IClientOptions,
  dashboard: IClientOptions,
  count: number,
): Promise<number> {
  const sub = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, dashboard);
  await sub.subscribeAsync('devices/+/telemetry');
  const pub = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, device);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    sub.on('message', () => {
      if (++received === count) resolve();
    });
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) pub.publish('devices/sensor-001/telemetry', '21.5');
  await done;
  const us = Number(process.hrtime.bigint() - start) / 1e3 / count;
  await Promise.all([pub.endAsync(), sub.endAsync()]);
  return us;
}

export async function benchBrokerGate({ quick }: { quick: boolean }) {
  const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-bench-broker-'));
  try {
    await initPki(stateDir);
    await issueIdentities(stateDir, ['sensor-001'], { keyType: 'ec' });
    const runs: Record<string, unknown>[] = await micro(stateDir, quick);
    const device = await options(stateDir, 'sensor-001');
    const dashboard = await options(stateDir, 'dashboard');
    const connections = quick ? 50 : 300;
    const messages = quick ? 5_000 : 50_000;
    const ours = await startBroker({ stateDir, port: 0, auditFile: join(stateDir, 'audit.jsonl') });
    const base = await baseline(stateDir);
    try {
      const endpoints = [
        ['baseline: aedes + Node TLS verify', base],
        ['certfleet broker (gate, policy, audit)', ours],
      ] as const;
      for (const [, endpoint] of endpoints) await connectionCost(endpoint.port, device, 10); // warm up
      // Alternate the two, round after round, so a load change on the machine hits both alike.
      for (let round = 1; round <= 3; round++) {
        for (const [name, endpoint] of round % 2 ? endpoints : [...endpoints].reverse()) {
          const ms = await connectionCost(endpoint.port, device, connections);
          const us = await messageCost(endpoint.port, device, dashboard, messages);
          runs.push({ what: `round ${round} ${name}: ms per connection (EC P-256, TLS 1.3)`, ms });
          runs.push({ what: `round ${round} ${name}: µs per QoS 0 message, device → dashboard`, us });
        }
      }
      // Live revocation: from calling `revokeIdentity` to the open session being closed.
      for (let i = 0; i < 3; i++) {
        const id = `sensor-r${i}`;
        await issueIdentities(stateDir, [id], { keyType: 'ec' });
        const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${ours.port}`, await options(stateDir, id));
        const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
        const start = process.hrtime.bigint(); // an upper bound: includes the CRL signing and writing
        await revokeIdentity(stateDir, id);
        await closed;
        runs.push({
          what: `revocation: revokeIdentity() called → open session closed (${id})`,
          ms: Number(process.hrtime.bigint() - start) / 1e6,
        });
      }
    } finally {
      await ours.close();
      await base.close();
    }
    return { method: 'see bench/broker-gate.ts header', connections, messages, runs };
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchBrokerGate({ quick: process.argv.includes('--quick') });
  console.table(result.runs);
}
