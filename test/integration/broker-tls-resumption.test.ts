/**
 * TLS session resumption never skips the broker's checks. Under TLS 1.3 the broker still sends session tickets
 * (SSL_OP_NO_TICKET only makes them stateful ids, and Node 20 cannot set their number to 0), but nothing on the
 * server keeps the sessions they name: a client that offers one gets a full handshake — chain, CRL and identity
 * checked again — so a certificate revoked since is refused.
 */
import mqttPacket from 'mqtt-packet';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { revokeIdentity } from '../../pki/index.ts';
import { makePki, type PkiFixture, runCleanups, startTestBroker } from '../helpers/broker-fixture.ts';
import { credentialsOf, type TlsCredentials } from '../helpers/fault-broker.ts';

let pki: PkiFixture;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'] });
  cleanups.push(() => pki.cleanup());
}, 60_000);
afterAll(() => runCleanups(cleanups));

interface Attempt {
  reused: boolean;
  /** Every session (ticket) the broker sent on this connection. */
  sessions: Buffer[];
  /** The CONNACK return code, or null when the connection closed without one. */
  returnCode: number | null;
}

/** One connection as `sensor-001`, offering `session` if given: CONNECT, wait for CONNACK or close, DISCONNECT. */
function attempt(port: number, credentials: TlsCredentials, session?: Buffer): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...credentials, session });
    cleanups.push(async () => {
      socket.destroy();
    });
    const sessions: Buffer[] = [];
    let returnCode: number | null = null;
    const parser = mqttPacket.parser();
    parser.on('packet', (packet) => {
      if (packet.cmd !== 'connack') return;
      returnCode = packet.returnCode ?? null;
      // Tickets arrive after the handshake: wait a moment so that they are counted, then leave.
      setTimeout(() => socket.end(mqttPacket.generate({ cmd: 'disconnect' })), 100);
    });
    socket.on('session', (ticket: Buffer) => sessions.push(ticket));
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => {});
    socket.once('secureConnect', () => {
      const reused = socket.isSessionReused();
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: 'sensor-001',
          clean: true,
          keepalive: 30,
        }),
      );
      socket.once('close', () => resolve({ reused, sessions, returnCode }));
    });
    socket.once('error', reject);
  });
}

it('a session ticket from the broker resumes nothing: full handshake, and a revoked certificate is refused', async () => {
  const { broker, waitFor } = await startTestBroker(pki.stateDir, {}, cleanups);
  const credentials = await credentialsOf(pki.stateDir, 'sensor-001');

  const first = await attempt(broker.port, credentials);
  expect(first).toMatchObject({ reused: false, returnCode: 0 });
  expect(first.sessions.length).toBeGreaterThan(0); // TLS 1.3 still hands out (stateful) tickets
  const ticket = first.sessions.at(-1)!;

  const second = await attempt(broker.port, credentials, ticket);
  expect(second).toMatchObject({ reused: false, returnCode: 0 }); // offered, not taken: a full handshake

  await revokeIdentity(pki.stateDir, 'sensor-001');
  await waitFor((r) => r.event === 'crl-reloaded', 'the CRL reload');
  const third = await attempt(broker.port, credentials, ticket);
  expect(third.reused).toBe(false);
  expect(third.returnCode).toBe(5); // CONNACK 5: not authorized
  const refused = await waitFor(
    (r) => r.event === 'handshake-refused' && r.cn === 'sensor-001',
    'the refusal of the revoked certificate',
  );
  expect(refused.reason).toBe('REVOKED');
});
