/**
 * Devices held online in stages, in a process of their own, so the parent reads what one device costs the client
 * side. Four subjects, the same identities, the same broker:
 * - `fleet`: the simulator as the dashboard runs it (devices/fleet.ts: worker threads, telemetry models, batching);
 * - `devices`: the same SimulatedDevice objects in this one thread (so its JavaScript heap can be read);
 * - `mqttjs`: a bare MQTT.js client per device over node:tls — nothing of ours but the shared TLS context;
 * - `tls`: a bare node:tls socket per device that sends CONNECT, SUBSCRIBE and its retained status by hand and then
 *   holds the connection — the platform's floor for one device.
 * The three references use the same shared context as the simulator (devices/tls-context.ts), so a context per
 * device is not what separates them. After each stage is online and settled: {"event":"stage","devices":N,…}.
 */
import tls from 'node:tls';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqtt from 'mqtt';
import { SimulatedDevice } from '../../devices/device.ts';
import { Fleet } from '../../devices/fleet.ts';
import { RateGate } from '../../devices/rate-gate.ts';
import type { DeviceSpec } from '../../devices/spec.ts';
import { loadDeviceTls } from '../../devices/tls-context.ts';
import type { LoadIdentity } from '../lib/bench-pki.ts';
import { emit, readParams, sleep } from './common.ts';
import { PacketReader, PacketType, publishPacket, subscribePacket, willConnectPacket } from './mqtt-wire.ts';

export type DeviceHoldSubject = 'fleet' | 'devices' | 'mqttjs' | 'tls';

export interface DeviceHoldParams {
  subject: DeviceHoldSubject;
  port: number;
  ca: string;
  identities: LoadIdentity[];
  /** Cumulative device counts, ascending. */
  stages: number[];
  connectRatePerSecond: number;
  settleMs: number;
  intervalMs: number;
  workers?: number;
  /** The references (`mqttjs`, `tls`): limit the records they send, as devices/tls-dial.ts does (default: Node's). */
  maxSendFragment?: number;
  /** Write a heap snapshot of this thread at every stage into this directory (bench/heap-diff.ts compares two). */
  heapSnapshotDir?: string;
}

export interface DeviceHoldResult {
  event: 'result';
  online: number;
  failures: number;
  firstError?: string;
}

const params = readParams<DeviceHoldParams>();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let failures = 0;
let firstError: string | undefined;
const failed = (error: string) => {
  failures++;
  firstError ??= error;
};

const specOf = (identity: LoadIdentity, index: number): DeviceSpec => ({
  id: identity.clientId,
  kind: 'climate',
  rogue: false,
  profile: (['climate', 'tracker', 'meter', 'door'] as const)[index % 4]!,
  clientId: identity.clientId,
  broker: { host: '127.0.0.1', port: params.port },
  credentials: { chain: identity.chain, key: identity.key, ca: params.ca },
  intervalMs: params.intervalMs,
  seed: identity.clientId,
  rotate: false,
});

/** RateGate's slot is owed back once the handshake is over, either way (devices/rate-gate.ts `release`). */
function releaseOnce(gate: RateGate): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    gate.release();
  };
}

interface Subject {
  add(identities: LoadIdentity[], firstIndex: number): void;
  online(): number;
  stop(): Promise<void>;
}

function fleetSubject(): Subject {
  const fleet = new Fleet({
    connectRatePerSecond: params.connectRatePerSecond,
    ...(params.workers && { workers: params.workers }),
  });
  const online = new Set<string>();
  fleet.subscribe((events) => {
    for (const event of events) {
      if (event.type === 'state') {
        if (event.state === 'online') online.add(event.id);
        else online.delete(event.id);
      } else if (event.type === 'rejected') failed(`${event.reason}: ${event.detail}`);
    }
  });
  return {
    add: (identities, first) => fleet.add(identities.map((identity, i) => specOf(identity, first + i))),
    online: () => online.size,
    stop: async () => void (await fleet.stop()),
  };
}

function devicesSubject(): Subject {
  const gate = new RateGate(params.connectRatePerSecond);
  const devices: SimulatedDevice[] = [];
  const online = new Set<string>();
  return {
    add: (identities, first) => {
      for (const [i, identity] of identities.entries()) {
        const device = new SimulatedDevice(
          specOf(identity, first + i),
          (event) => {
            if (event.type === 'state') {
              if (event.state === 'online') online.add(event.id);
              else online.delete(event.id);
            } else if (event.type === 'rejected') failed(`${event.reason}: ${event.detail}`);
          },
          gate,
        );
        devices.push(device);
        device.start();
      }
    },
    online: () => online.size,
    stop: async () => void (await Promise.all(devices.map((device) => device.stop()))),
  };
}

/** MQTT.js with the options devices/session.ts gives it, over a socket from the shared context. */
function mqttjsSubject(): Subject {
  const gate = new RateGate(params.connectRatePerSecond);
  const clients: mqtt.MqttClient[] = [];
  let online = 0;
  const start = async (identity: LoadIdentity, index: number) => {
    const spec = specOf(identity, index);
    const deviceTls = await loadDeviceTls(spec);
    await gate.acquire();
    const id = identity.clientId;
    const release = releaseOnce(gate);
    const client = new mqtt.MqttClient(
      () => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: params.port,
          secureContext: deviceTls.context(),
        });
        if (params.maxSendFragment) socket.setMaxSendFragment(params.maxSendFragment);
        return socket;
      },
      {
        protocolVersion: 5,
        clientId: id,
        clean: true,
        keepalive: 60,
        reconnectPeriod: 0,
        connectTimeout: 20_000,
        resubscribe: false,
        will: { topic: `devices/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
      },
    );
    clients.push(client);
    client.on('error', (error) => {
      release();
      failed(error.message);
    });
    client.once('close', release);
    client.once('connect', () => {
      release();
      client.subscribe(`devices/${id}/commands/#`, { qos: 1 });
      client.publish(`devices/${id}/status`, 'online', { qos: 1, retain: true }, (error) => {
        if (error) failed(error.message);
        else online++;
      });
    });
  };
  return {
    add: (identities, first) => {
      for (const [i, identity] of identities.entries()) void start(identity, first + i);
    },
    online: () => online,
    stop: async () => void (await Promise.all(clients.map((client) => client.endAsync(true)))),
  };
}

/** node:tls and a few hand-built packets: what Node and OpenSSL hold for one idle device session. */
function tlsSubject(): Subject {
  const gate = new RateGate(params.connectRatePerSecond);
  const sockets: tls.TLSSocket[] = [];
  let online = 0;
  const start = async (identity: LoadIdentity, index: number) => {
    const deviceTls = await loadDeviceTls(specOf(identity, index));
    await gate.acquire();
    const id = identity.clientId;
    const socket = tls.connect({
      host: '127.0.0.1',
      port: params.port,
      secureContext: deviceTls.context(),
    });
    if (params.maxSendFragment) socket.setMaxSendFragment(params.maxSendFragment);
    const release = releaseOnce(gate);
    socket.once('secureConnect', release);
    socket.once('close', release);
    sockets.push(socket);
    const reader = new PacketReader((packet) => {
      if (packet.type === PacketType.CONNACK) {
        socket.write(subscribePacket(1, `devices/${id}/commands/#`, 1));
        socket.write(publishPacket(`devices/${id}/status`, 'online', { qos: 1, retain: true, packetId: 2 }));
      } else if (packet.type === PacketType.PUBACK) online++;
    });
    socket.once('secureConnect', () =>
      socket.write(willConnectPacket(id, 60, { topic: `devices/${id}/status`, payload: 'offline' })),
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      release();
      failed(error.code ?? error.message);
    });
  };
  return {
    add: (identities, first) => {
      for (const [i, identity] of identities.entries()) void start(identity, first + i);
    },
    online: () => online,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

const subjects: Record<DeviceHoldSubject, () => Subject> = {
  fleet: fleetSubject,
  devices: devicesSubject,
  mqttjs: mqttjsSubject,
  tls: tlsSubject,
};

const subject = subjects[params.subject]();
await sleep(1_500); // workers loaded, modules compiled: the baseline the parent reads next
gc();
emit({
  event: 'stage',
  pid: process.pid,
  devices: 0,
  online: 0,
  heapUsedKiB: process.memoryUsage().heapUsed / 1024,
});
let added = 0;
for (const target of params.stages) {
  subject.add(params.identities.slice(added, target), added);
  added = target;
  const deadline = Date.now() + 120_000 + (target * 1000) / Math.max(1, params.connectRatePerSecond);
  while (subject.online() < target && Date.now() < deadline) await sleep(250);
  await sleep(params.settleMs);
  gc(); // this thread's heap only (the fleet's workers collect on their own)
  if (params.heapSnapshotDir)
    writeHeapSnapshot(join(params.heapSnapshotDir, `${params.subject}-${target}.heapsnapshot`));
  emit({
    event: 'stage',
    pid: process.pid,
    devices: target,
    online: subject.online(),
    heapUsedKiB: process.memoryUsage().heapUsed / 1024,
  });
  await sleep(500);
}
const result: DeviceHoldResult = {
  event: 'result',
  online: subject.online(),
  failures,
  ...(firstError !== undefined && { firstError }),
};
await subject.stop();
emit(result);
process.exit(0);
