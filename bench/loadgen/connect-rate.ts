/**
 * mTLS connection rate: `concurrency` connectors, each in a loop: TCP connect, full TLS handshake with a client
 * certificate (no session resumption), MQTT CONNECT, wait for CONNACK, DISCONNECT, next. Counts CONNACKs 0 inside
 * the measured window and times each from connect() to CONNACK.
 */
import tls from 'node:tls';
import type { LoadIdentity } from '../lib/bench-pki.ts';
import { percentile } from '../lib/stats.ts';
import { emit, readParams, secureContexts, sleep } from './common.ts';
import { connectPacket, DISCONNECT, PacketReader, PacketType } from './mqtt-wire.ts';

export interface ConnectRateParams {
  port: number;
  ca: string;
  identities: LoadIdentity[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** `mqtt` (default): CONNECT, wait for CONNACK. `line`: send a line, wait for the echo (openssl s_server -rev). */
  probe?: 'mqtt' | 'line';
}

export interface ConnectRateResult {
  event: 'result';
  connections: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  /** Handshakes that resumed a session: must be 0 (every one is a full handshake). */
  resumed: number;
  loadgenCpuSeconds: number;
  firstError?: string;
}

const params = readParams<ConnectRateParams>();
const contexts = secureContexts(params.ca, params.identities);
const packets = params.identities.map((identity) => connectPacket(identity.clientId));
const CONNECT_TIMEOUT_MS = 15_000;
const PROBE_LINE = Buffer.from('ping\n');

let measuring = false;
let stopped = false;
let connections = 0;
let failures = 0;
let resumed = 0;
let firstError: string | undefined;
const latencies: number[] = [];
let next = 0;

function connectOnce(): Promise<void> {
  const index = next++ % contexts.length;
  const started = performance.now();
  return new Promise((done) => {
    let settled = false;
    const finish = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (measuring) {
        if (ok) {
          connections++;
          latencies.push(performance.now() - started);
        } else {
          failures++;
          firstError ??= error;
        }
      }
      done();
    };
    const options: tls.ConnectionOptions & { localAddress: string } = {
      host: '127.0.0.1',
      port: params.port,
      secureContext: contexts[index]!,
      localAddress: `127.0.0.${1 + (index % 16)}`, // 16× the ephemeral ports: no exhaustion by TIME_WAIT
    };
    const socket = tls.connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      finish(false, 'timeout');
    }, CONNECT_TIMEOUT_MS);
    const reader = new PacketReader((packet) => {
      if (packet.type !== PacketType.CONNACK) return;
      const code = packet.body[1];
      socket.end(DISCONNECT);
      finish(code === 0, `CONNACK ${code}`);
    });
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) resumed++;
      socket.write(params.probe === 'line' ? PROBE_LINE : packets[index]!);
    });
    // Under TLS 1.3 the client is verified after its Finished: only an answer proves the server accepted it.
    socket.on('data', (chunk: Buffer) => {
      if (params.probe !== 'line') return reader.push(chunk);
      socket.end();
      finish(true);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(false, error.code ?? error.message));
    socket.once('close', () => finish(false, 'closed before CONNACK'));
  });
}

async function connector(): Promise<void> {
  while (!stopped) await connectOnce();
}

const running = Array.from({ length: params.concurrency }, () => connector());
await sleep(params.warmupMs);
const cpuBefore = process.cpuUsage();
const windowStart = performance.now();
measuring = true;
emit({ event: 'measuring' });
await sleep(params.durationMs);
measuring = false;
const seconds = (performance.now() - windowStart) / 1000;
const cpu = process.cpuUsage(cpuBefore);
emit({ event: 'measured' });
stopped = true;
await Promise.race([Promise.all(running), sleep(CONNECT_TIMEOUT_MS)]);
const result: ConnectRateResult = {
  event: 'result',
  connections,
  seconds,
  perSecond: connections / seconds,
  p50Ms: percentile(latencies, 50),
  p99Ms: percentile(latencies, 99),
  failures,
  resumed,
  loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
  ...(firstError !== undefined && { firstError }),
};
emit(result);
process.exit(0);
