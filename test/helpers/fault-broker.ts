/**
 * Fault-injection fixtures: the broker as its own process (`certfleet broker`, so a crash is an exit code and its
 * memory is its own), raw MQTT over real TLS with our certificates, and a well-behaved device that measures its
 * PUBACK latency while an attack runs. Every fixture registers its cleanup the moment it exists.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { showIdentity } from '../../pki/index.ts';
import { CERTFLEET } from './pki-fixture.ts';

export type Cleanups = (() => Promise<void> | void)[];

export async function runAll(cleanups: Cleanups): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {}
  }
}

export interface ChildBroker {
  readonly pid: number;
  readonly port: number;
  readonly auditFile: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  alive(): boolean;
  /** Resident set size now, in MB (from /proc). */
  rssMb(): number;
  audit(): Promise<AuditRecord[]>;
  /** Waits until the audit file holds a record matching, or fails with what it holds. */
  waitForAudit(match: (r: AuditRecord) => boolean, what: string, timeoutMs?: number): Promise<AuditRecord>;
}

let brokers = 0;

/** `certfleet broker --port 0 --json-ready …args` as a child process. */
export async function startChildBroker(
  stateDir: string,
  args: string[],
  cleanups: Cleanups,
  port = 0,
): Promise<ChildBroker> {
  // One audit file per broker: a test reads only what its own broker decided.
  const auditFile = join(stateDir, `audit-${process.pid}-${++brokers}.jsonl`);
  const child = spawn(
    process.execPath,
    [
      CERTFLEET,
      '--state-dir',
      stateDir,
      'broker',
      '--port',
      String(port),
      '--json-ready',
      '--audit-file',
      auditFile,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n')[0];
      if (!buffered.includes('\n') || line === undefined) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve(JSON.parse(line) as { port: number; pid: number });
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`broker exited (${code}) before ready: ${stderr}`)));
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const audit = async () => readAuditLog(auditFile).catch(() => [] as AuditRecord[]);
  return {
    pid: ready.pid,
    port: ready.port,
    auditFile,
    child,
    exited,
    stderr: () => stderr,
    alive,
    rssMb: () => rssMbOf(ready.pid),
    audit,
    async waitForAudit(match, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = (await audit()).find(match);
        if (hit) return hit;
        if (Date.now() > deadline) {
          const tail = (await audit()).slice(-15).map((r) => JSON.stringify(r));
          throw new Error(`timed out waiting for ${what}; last records:\n${tail.join('\n')}`);
        }
        await sleep(50);
      }
    },
  };
}

export function rssMbOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 102.4) / 10;
  } catch {
    return 0;
  }
}

export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for `event`; true when it happened, false after `capMs`. Tests wait for what they expect, not for a time: the
 * cap only turns "never" into a failure that says what did happen, before the test's own timeout.
 */
export async function happensWithin(event: Promise<unknown>, capMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), capMs);
  });
  try {
    return await Promise.race([event.then(() => true as const), cap]);
  } finally {
    clearTimeout(timer);
  }
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export interface TlsCredentials {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export async function credentialsOf(stateDir: string, id: string | null): Promise<TlsCredentials> {
  const info = await showIdentity(stateDir, id ?? 'dashboard');
  const ca = await readFile(info.paths.ca);
  if (id === null) return { ca };
  return { ca, cert: await readFile(info.paths.chain), key: await readFile(info.paths.key) };
}

/** A raw MQTT 3.1.1 peer over real TLS: writes any bytes, collects every packet the broker sends. */
export interface RawPeer {
  readonly socket: TLSSocket;
  readonly packets: Packet[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
  send(packet: Record<string, unknown>): void;
  /** Resolves with the first packet (already received or future) of this command, or null on close/timeout. */
  next(cmd: string, timeoutMs?: number): Promise<Packet | null>;
}

export function rawPeer(port: number, credentials: TlsCredentials, cleanups: Cleanups): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...credentials });
    cleanups.push(() => {
      socket.destroy();
    });
    const packets: Packet[] = [];
    const parser = mqttPacket.parser();
    const waiters = new Set<() => void>();
    parser.on('packet', (packet) => {
      packets.push(packet);
      for (const waiter of waiters) waiter();
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => {});
    let isClosed = false;
    const closed = new Promise<void>((done) =>
      socket.once('close', () => {
        isClosed = true;
        for (const waiter of waiters) waiter();
        done();
      }),
    );
    socket.once('secureConnect', () =>
      resolve({
        socket,
        packets,
        closed,
        isClosed: () => isClosed,
        send: (packet) => socket.write(mqttPacket.generate(packet as unknown as Packet)),
        next: (cmd, timeoutMs = 5000) =>
          new Promise((done) => {
            const check = () => {
              const hit = packets.find((p) => p.cmd === cmd);
              if (hit || isClosed) {
                clearTimeout(timer);
                waiters.delete(check);
                done(hit ?? null);
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              done(null);
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** A raw peer that completed CONNECT/CONNACK 0 as `id`. */
export async function connectedPeer(
  port: number,
  stateDir: string,
  id: string,
  cleanups: Cleanups,
  extra: Record<string, unknown> = {},
): Promise<RawPeer> {
  const peer = await rawPeer(port, await credentialsOf(stateDir, id), cleanups);
  peer.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: id,
    clean: true,
    keepalive: 60,
    ...extra,
  });
  const connack = await peer.next('connack');
  if (!connack || (connack as { returnCode?: number }).returnCode !== 0) {
    throw new Error(`${id}: no CONNACK 0 (got ${JSON.stringify(connack)})`);
  }
  return peer;
}

export interface LatencyProbe {
  readonly client: MqttClient;
  /** Stops publishing; resolves with PUBACK latencies (ms) and how many publishes were acknowledged. */
  stop(): Promise<ProbeStats>;
}

export interface ProbeStats {
  sent: number;
  acked: number;
  /** Times the connection was lost after it first came up. */
  disconnects: number;
  p50: number;
  p95: number;
  max: number;
}

/**
 * A well-behaved device: connects with MQTT.js (reconnecting, like a real device) and publishes QoS 1 telemetry
 * every `everyMs`, measuring the time to each PUBACK.
 */
export async function startProbe(
  port: number,
  stateDir: string,
  id: string,
  cleanups: Cleanups,
  everyMs = 100,
  /** Only a cap for "never online" (the device retries meanwhile); what a test expects it asserts on connectMs. */
  onlineCapMs = 30_000,
): Promise<LatencyProbe & { connectMs: number }> {
  const credentials = await credentialsOf(stateDir, id);
  const started = Date.now();
  const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
    ...credentials,
    clientId: id,
    protocolVersion: 4,
    reconnectPeriod: 200,
    connectTimeout: 5000,
    keepalive: 30,
  });
  cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${id} not online within ${onlineCapMs / 1000} s`)),
      onlineCapMs,
    );
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const connectMs = Date.now() - started;
  let disconnects = 0;
  client.on('close', () => disconnects++);
  const latencies: number[] = [];
  let sent = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    if (inFlight > 50) return; // do not pile up while the broker is unreachable
    sent++;
    inFlight++;
    const at = performance.now();
    client.publish(`devices/${id}/telemetry`, `{"n":${sent}}`, { qos: 1 }, (error) => {
      inFlight--;
      if (!error) latencies.push(performance.now() - at);
    });
  }, everyMs);
  return {
    client,
    connectMs,
    async stop() {
      clearInterval(timer);
      const deadline = Date.now() + 5000;
      while (inFlight > 0 && Date.now() < deadline) await sleep(20);
      return { ...summarize(latencies, sent), disconnects };
    },
  };
}

export function summarize(latencies: number[], sent: number): Omit<ProbeStats, 'disconnects'> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? -1);
  return { sent, acked: sorted.length, p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? -1) };
}

/** One line per scenario, easy to grep out of the test output into the notes. */
export function report(scenario: string, numbers: Record<string, unknown>): void {
  const fields = Object.entries(numbers).map(
    ([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`,
  );
  process.stdout.write(`FAULT-REPORT ${scenario} | ${fields.join(' ')} | load=${loadAverage()}\n`);
}
