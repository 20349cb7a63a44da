/**
 * Idle connections held open, in stages, so the parent can read what each held connection costs the server. Every
 * connection is what a simulated device leaves on a broker: a full mTLS handshake with its own identity, CONNECT
 * (clientId = CN, a retained QoS 1 last will on its status topic), SUBSCRIBE to its command topic, a retained
 * `online` status — then nothing but the keepalive. `line` servers (openssl s_server) get one echoed line.
 * After each stage is connected and settled it emits {"event":"stage","connections":N} and pauses `settleMs` so
 * the parent reads the server's memory while nothing moves. With `steadyMs`, after the last stage it stays idle that
 * long more and emits {"event":"steady","connections":N}: a Node server's young generation, grown during the
 * connection storm, is given back by V8's memory reducer only after tens of seconds of idleness (~1 min here).
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { LoadIdentity } from '../lib/bench-pki.ts';
import { emit, readParams, sleep } from './common.ts';
import { PacketReader, PacketType, publishPacket, subscribePacket, willConnectPacket } from './mqtt-wire.ts';

export interface HoldParams {
  port: number;
  ca: string;
  identities: LoadIdentity[];
  /** Cumulative connection counts, ascending; at most identities.length. */
  stages: number[];
  concurrency: number;
  settleMs: number;
  /** Idle time after the last stage before the `steady` event (0 or absent: none). */
  steadyMs?: number;
  /** `mqtt`: held once its retained status is acknowledged; `connack`: once CONNACK came (bench/servers/bare-tls.ts,
   * which answers nothing else); `line`: once a line came back (openssl s_server). */
  probe?: 'mqtt' | 'connack' | 'line';
}

export interface HoldResult {
  event: 'result';
  connected: number;
  failures: number;
  firstError?: string;
}

const params = readParams<HoldParams>();
const caPem = readFileSync(params.ca);
const held: tls.TLSSocket[] = [];
let failures = 0;
let firstError: string | undefined;

function hold(identity: LoadIdentity): Promise<void> {
  // One context per connection, dropped once connected: the load generator's memory is not what is measured.
  const secureContext = tls.createSecureContext({
    ca: caPem,
    cert: readFileSync(identity.chain),
    key: readFileSync(identity.key),
  });
  return new Promise((done) => {
    const socket = tls.connect({ host: '127.0.0.1', port: params.port, secureContext });
    const fail = (error: string) => {
      failures++;
      firstError ??= error;
      socket.destroy();
      done();
    };
    const timer = setTimeout(() => fail('timeout'), 30_000);
    const ok = () => {
      clearTimeout(timer);
      socket.removeAllListeners('close');
      socket.on('close', () => {
        failures++;
        firstError ??= 'closed while held';
      });
      held.push(socket);
      done();
    };
    const id = identity.clientId;
    const reader = new PacketReader((packet) => {
      if (packet.type === PacketType.CONNACK) {
        if (packet.body[1] !== 0) return fail(`CONNACK ${packet.body[1]}`);
        if (params.probe === 'connack') return ok();
        socket.write(subscribePacket(1, `devices/${id}/commands/#`, 1));
        socket.write(publishPacket(`devices/${id}/status`, 'online', { qos: 1, retain: true, packetId: 2 }));
      } else if (packet.type === PacketType.PUBACK) ok();
    });
    socket.once('secureConnect', () =>
      socket.write(
        params.probe === 'line'
          ? 'ping\n'
          : willConnectPacket(id, 600, { topic: `devices/${id}/status`, payload: 'offline' }),
      ),
    );
    socket.on('data', (chunk: Buffer) => (params.probe === 'line' ? ok() : reader.push(chunk)));
    socket.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    socket.once('close', () => fail('closed before held'));
  });
}

let next = 0;
for (const target of params.stages) {
  const end = Math.min(target, params.identities.length);
  const workers = Array.from({ length: params.concurrency }, async () => {
    while (next < end) await hold(params.identities[next++]!);
  });
  await Promise.all(workers);
  await sleep(params.settleMs);
  emit({ event: 'stage', connections: held.length });
  await sleep(500);
}
if (params.steadyMs) {
  await sleep(params.steadyMs);
  emit({ event: 'steady', connections: held.length });
  await sleep(500);
}
const result: HoldResult = {
  event: 'result',
  connected: held.length,
  failures,
  ...(firstError !== undefined && { firstError }),
};
for (const socket of held) socket.destroy();
emit(result);
process.exit(0);
