/**
 * Exit code 2 — the run could not happen — for `devices run --broker` and `certfleet check`: nothing listening, a
 * server that does not speak TLS, a TLS server that does not speak MQTT. Real sockets on 127.0.0.1, our real PKI.
 */
import { createServer, type Socket } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { brokerProblem } from '../../devices/check/preflight.ts';
import { initPki, loadTrustMaterial } from '../../pki/index.ts';
import { freePort } from '../helpers/devices-mosquitto.ts';
import { certfleet, makeStateDir } from '../helpers/pki-fixture.ts';

let stateDir: string;
let removeStateDir: () => Promise<void>;
beforeAll(async () => {
  ({ dir: stateDir, cleanup: removeStateDir } = await makeStateDir('certfleet-exit-'));
  await initPki(stateDir);
});
afterAll(() => removeStateDir());

/** A server on 127.0.0.1:0 that is closed (with its sockets) when the test ends. */
async function listen(server: ReturnType<typeof createServer> | tls.Server): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

describe('a run that cannot happen', () => {
  it('nothing listening: `devices run --broker` exits 2 with the reason on stderr', async () => {
    const port = await freePort();
    expect(await brokerProblem(stateDir, { host: '127.0.0.1', port })).toMatch(
      /^ERROR: broker unreachable: 127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
    const result = await certfleet(stateDir, [
      'devices',
      'run',
      '--broker',
      `mqtts://127.0.0.1:${port}`,
      '--count',
      '2',
      '--duration',
      '30s',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ERROR: broker unreachable: 127\.0\.0\.1:\d+: ECONNREFUSED/m);
    expect(result.stdout).toBe('');
  }, 60_000);

  it('a plain-text server (an MQTT port without TLS, HTTP…): "no TLS"', async () => {
    const port = await listen(
      createServer((socket) => {
        socket.on('error', () => {});
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      }),
    );
    expect(await brokerProblem(stateDir, { host: '127.0.0.1', port })).toMatch(
      /^ERROR: no TLS: 127\.0\.0\.1:\d+ did not complete a TLS handshake/,
    );
  });

  it('a TLS server that never answers the MQTT CONNECT: "not an MQTT broker"', async () => {
    const trust = await loadTrustMaterial(stateDir);
    const port = await listen(
      tls.createServer({ cert: trust.serverCert, key: trust.serverKey }, (socket) => {
        socket.on('error', () => {});
        socket.resume();
      }),
    );
    expect(await brokerProblem(stateDir, { host: '127.0.0.1', port })).toMatch(
      /^ERROR: not an MQTT broker: 127\.0\.0\.1:\d+ completed the TLS handshake but never answered the MQTT CONNECT/,
    );
  }, 20_000);

  it('a broker certificate the CA list does not trust: "TLS failed" (check exits 2)', async () => {
    const other = await makeStateDir('certfleet-exit-other-');
    onTestFinished(() => other.cleanup());
    await initPki(other.dir);
    const theirs = await loadTrustMaterial(other.dir);
    const port = await listen(tls.createServer({ cert: theirs.serverCert, key: theirs.serverKey }, () => {}));
    const result = await certfleet(stateDir, ['check', '--broker', `mqtts://127.0.0.1:${port}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^ERROR: TLS failed: 127\.0\.0\.1:\d+: the broker certificate does not chain/m,
    );
  }, 60_000);
});
