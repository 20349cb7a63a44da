/**
 * The broker asks the kernel for a connection's peer address once (getpeername(2)): admission reads it on the raw
 * TCP socket, and the TLS socket over it — which has a cache of its own — is given that answer rather than asking
 * again. Counted on the TCP handles of this process (the broker runs in it; the peers, mosquitto_pub and openssl,
 * do not), over accepted connections and refused ones; the audit still names each peer's address and port.
 */
import { afterEach, expect, it } from 'vitest';
import type { AuditRecord } from '../../core/audit.ts';
import { ensureIdentity } from '../../pki/index.ts';
import { runPeer, sClient } from '../helpers/broker-peers.ts';
import { ourBroker, pkiStateDir } from '../helpers/devices-fixture.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

/** Counts getpeername calls on every TCP handle of this process while `count` is installed. */
function countGetpeername(): { calls: () => number } {
  const { TCP } = (process as unknown as { binding(name: string): { TCP: { prototype: object } } }).binding(
    'tcp_wrap',
  );
  const proto = TCP.prototype as { getpeername(out: object): number };
  const original = proto.getpeername;
  let calls = 0;
  proto.getpeername = function (this: unknown, out: object) {
    calls++;
    return original.call(this, out);
  };
  cleanup(() => {
    proto.getpeername = original;
  });
  return { calls: () => calls };
}

it('one getpeername per connection, accepted or refused; the audit names every peer', async () => {
  const stateDir = await pkiStateDir(cleanup);
  const device = await ensureIdentity(stateDir, 'sensor-001');
  const broker = await ourBroker(stateDir, cleanup);
  const records: AuditRecord[] = [];
  broker.on('audit', (record) => records.push(record));
  const counter = countGetpeername();

  const ACCEPTED = 4;
  for (let i = 0; i < ACCEPTED; i++) {
    const { status, stderr } = await runPeer('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', device.paths.ca],
      ...['--cert', device.paths.chain, '--key', device.paths.key, '-i', 'sensor-001'],
      ...['-t', 'devices/sensor-001/telemetry', '-m', `{"n":${i}}`, '-q', '1'],
    ]).done;
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  }
  // No certificate: refused inside the TLS handshake (tlsClientError), the other path that reads the address.
  const REFUSED = 2;
  for (let i = 0; i < REFUSED; i++) await sClient(broker.port, ['-CAfile', device.paths.ca]);
  const deadline = Date.now() + 5_000;
  const ends = () =>
    records.filter((r) => r.event === 'disconnected' || r.event === 'handshake-refused').length;
  while (ends() < ACCEPTED + REFUSED && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

  expect(counter.calls()).toBe(ACCEPTED + REFUSED);
  const accepted = records.filter((r) => r.event === 'connection-accepted');
  const refused = records.filter((r) => r.event === 'handshake-refused');
  expect(accepted).toHaveLength(ACCEPTED);
  expect(refused.map((r) => r.reason)).toEqual(['NO_CERTIFICATE', 'NO_CERTIFICATE']);
  for (const record of [...accepted, ...refused]) {
    expect(record.peer?.address).toBe('127.0.0.1');
    expect(record.peer?.port).toBeGreaterThan(0);
  }
  // Each connection's records name the same peer as its acceptance.
  for (const record of accepted) {
    const end = records.find((r) => r.event === 'disconnected' && r.connection === record.connection);
    expect(end?.peer).toEqual(record.peer);
  }
}, 60_000);
