/**
 * Reference for the connect suite: what Node + OpenSSL cost with no broker at all. A bare `node:tls` server with the
 * broker's own certificate, CA and CRLs, `requestCert` and SSL_OP_NO_TICKET (as the broker: under TLS 1.3 both still
 * send two stateful tickets that resume nothing — see broker.ts), that answers the first
 * MQTT packet with a CONNACK from a constant buffer and closes on DISCONNECT. No MQTT parser, no policy, no audit.
 *   node --import tsx bench/servers/bare-tls.ts <stateDir>
 * Prints one JSON line {"port":…} when listening; SIGTERM closes it.
 */
import { constants } from 'node:crypto';
import tls from 'node:tls';
import { loadTrustMaterial } from '../../pki/index.ts';

const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const DISCONNECT_TYPE = 0xe0;

const [stateDir] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: bare-tls.ts <stateDir>');
const trust = await loadTrustMaterial(stateDir);
const server = tls.createServer(
  {
    ca: trust.ca,
    crl: trust.crl,
    cert: trust.serverCert,
    key: trust.serverKey,
    minVersion: 'TLSv1.2',
    secureOptions: constants.SSL_OP_NO_TICKET,
    requestCert: true,
    rejectUnauthorized: true,
  },
  (socket) => {
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (!answered) {
        answered = true;
        socket.write(CONNACK_ACCEPTED);
        return;
      }
      if (chunk[0] === DISCONNECT_TYPE) socket.end();
    });
    socket.on('error', () => socket.destroy());
  },
);
server.on('tlsClientError', (_error, socket) => socket.destroy());
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  process.exit(0);
});
