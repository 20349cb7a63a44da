/**
 * A busy broker is not a verdict. A device whose handshakes time out (our real broker, frozen with SIGSTOP: the
 * kernel still completes TCP, nobody answers the ClientHello), or whose connection is closed long after its
 * certificate went out (a broker whose deadline ran out under load), keeps retrying with its backoff and says
 * "broker busy" — and gets in once the broker answers. A prompt bare close after the handshake is still a refusal.
 */
import tls from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import type { DeviceSpec } from '../../devices/spec.ts';
import { EventLog, pkiStateDir } from '../helpers/devices-fixture.ts';
import { type Cleanups, credentialsOf, runAll, startChildBroker } from '../helpers/fault-broker.ts';

const cleanups: Cleanups = [];
const cleanup = (action: () => unknown) => cleanups.push(action as () => void);
afterEach(() => runAll(cleanups));

type StateEvent = Extract<DeviceEvent, { type: 'state' }>;
const retries = (log: EventLog) =>
  log.events.filter((e): e is StateEvent => e.type === 'state' && e.state === 'backing-off');

async function startDevice(stateDir: string, port: number, overrides: Partial<DeviceSpec> = {}) {
  const [spec] = await planFleet({ stateDir, broker: { host: '127.0.0.1', port }, count: 1, keyType: 'ec' });
  const log = new EventLog();
  const device = new SimulatedDevice(
    { ...(spec as DeviceSpec), backoff: { initialMs: 100, maxMs: 300 }, ...overrides },
    log.push,
  );
  cleanup(() => device.stop());
  device.start();
  return { device, log, id: (spec as DeviceSpec).id };
}

/** Until `count` retries were reported (or the device was rejected). */
async function retriesSeen(log: EventLog, count: number) {
  await log.waitFor((e) => e.type === 'rejected' || retries(log).length >= count, 30_000);
}

it('handshakes that time out against a frozen broker: retried as "broker busy", online once it answers', async () => {
  const stateDir = await pkiStateDir(cleanup);
  const broker = await startChildBroker(stateDir, ['--quiet'], cleanups);
  broker.child.kill('SIGSTOP');
  cleanup(() => broker.child.kill('SIGCONT'));
  const { log, id } = await startDevice(stateDir, broker.port, { connectTimeoutMs: 400 });
  await retriesSeen(log, 6); // more attempts than any verdict needs (device.ts VERDICT_AFTER)
  expect(log.events.some((e) => e.type === 'rejected')).toBe(false);
  for (const retry of retries(log)) {
    expect(retry.reason).toBe('TIMEOUT');
    expect(retry.detail).toMatch(/^broker busy or unreachable: no answer within 400 ms; retrying in \d+ ms$/);
  }
  broker.child.kill('SIGCONT');
  await log.state(id, 'online', 20_000);
});

/**
 * A real TLS server with the broker's certificate that takes the device's certificate, then closes without a word
 * after `closeAfterMs` — what a broker does when a deadline runs out while it is overloaded (late), or what a strict
 * broker does to a certificate it refuses (at once).
 */
async function silentCloser(stateDir: string, closeAfterMs: number): Promise<number> {
  const server = tls.createServer({
    ...(await credentialsOf(stateDir, 'server')),
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on('secureConnection', (socket) => {
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), closeAfterMs);
  });
  cleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

it('a close long after our certificate went out is a busy broker: retried, never a rejection', async () => {
  const stateDir = await pkiStateDir(cleanup);
  const { log } = await startDevice(stateDir, await silentCloser(stateDir, 1_500));
  await retriesSeen(log, 5);
  expect(log.events.some((e) => e.type === 'rejected')).toBe(false);
  for (const retry of retries(log)) {
    expect(retry.reason).toBe('BROKER_BUSY');
    expect(retry.detail).toMatch(
      /^broker busy: it closed the connection \d+\.\d s after our certificate went out/,
    );
  }
}, 40_000);

it('a bare close right after the handshake is still a refusal: rejected after four in a row', async () => {
  const stateDir = await pkiStateDir(cleanup);
  const { log, id } = await startDevice(stateDir, await silentCloser(stateDir, 0));
  const rejected = await log.waitFor((e) => e.type === 'rejected', 30_000);
  expect(rejected).toMatchObject({ id, reason: 'CLOSED_BY_BROKER', step: 'client-verified' });
  expect(retries(log)).toHaveLength(3);
});
