/**
 * A TCP → mutual-TLS bridge for clients that speak plain TCP only (the Eclipse Paho conformance suites): for each
 * incoming connection it reads the MQTT CONNECT, opens a TLS connection to the broker presenting the certificate
 * whose CN equals the CONNECT's client id (`identityFor`), replays the CONNECT and then pipes both ways. A close
 * on either side closes the other at once, so a client that vanishes looks to the broker like a dropped network
 * connection (that is what fires wills) and a broker that hangs up is seen by the client.
 */
import { createServer, type Server, type Socket } from 'node:net';
import tls from 'node:tls';

export interface BridgeIdentity {
  cert: Buffer;
  key: Buffer;
}

export interface BridgeOptions {
  /** The mTLS broker. */
  target: { host: string; port: number };
  /** CA certificates the broker's certificate must chain to. */
  ca: Buffer;
  /** The credentials for a client id ('' for an empty one); null refuses the connection. */
  identityFor(clientId: string): BridgeIdentity | null;
  /** Time to receive a whole CONNECT, ms. */
  connectTimeoutMs?: number;
}

export interface RunningBridge {
  readonly port: number;
  /** Connections bridged, and client ids seen, for assertions. */
  readonly clientIds: string[];
  close(): Promise<void>;
}

/** The client id of a complete CONNECT at the start of `buffer`, `undefined` if incomplete, null if not a CONNECT. */
export function connectClientId(buffer: Buffer): string | null | undefined {
  if (buffer.length < 2) return undefined;
  if (buffer[0]! >> 4 !== 1) return null;
  let length = 0;
  let multiplier = 1;
  let offset = 1;
  for (;;) {
    if (offset >= buffer.length) return undefined;
    const byte = buffer[offset++]!;
    length += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if (!(byte & 0x80)) break;
    if (offset > 4) return null;
  }
  if (buffer.length < offset + length) return undefined;
  const end = offset + length;
  const nameLength = buffer.readUInt16BE(offset);
  let at = offset + 2 + nameLength;
  const level = buffer[at];
  at += 1 + 1 + 2; // level, flags, keepalive
  if (level === 5) {
    // properties: a variable byte integer length, then that many bytes (MQTT 5 §3.1.2.11)
    let propertiesLength = 0;
    let m = 1;
    for (;;) {
      const byte = buffer[at++];
      if (byte === undefined) return null;
      propertiesLength += (byte & 0x7f) * m;
      m *= 128;
      if (!(byte & 0x80)) break;
    }
    at += propertiesLength;
  }
  if (at + 2 > end) return null;
  const idLength = buffer.readUInt16BE(at);
  if (at + 2 + idLength > end) return null;
  return buffer.subarray(at + 2, at + 2 + idLength).toString('utf8');
}

export function startPahoBridge(options: BridgeOptions): Promise<RunningBridge> {
  const sockets = new Set<Socket>();
  const clientIds: string[] = [];
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => {});
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), options.connectTimeoutMs ?? 10_000);
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const clientId = connectClientId(pending);
      if (clientId === undefined) return;
      clearTimeout(timer);
      client.off('data', onData);
      const identity = clientId === null ? null : options.identityFor(clientId);
      if (clientId === null || identity === null) {
        client.destroy();
        return;
      }
      clientIds.push(clientId);
      client.pause();
      const upstream = tls.connect({
        host: options.target.host,
        port: options.target.port,
        ca: options.ca,
        cert: identity.cert,
        key: identity.key,
        servername: 'localhost',
      });
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.on('error', () => upstream.destroy()); // then 'close' below
      client.on('error', () => upstream.destroy());
      upstream.once('secureConnect', () => {
        upstream.write(pending);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      // Either side gone: the other goes at once (no half-open sessions that would delay wills or hide hang-ups).
      // A broker that hung up is passed on as an orderly close (FIN after what it sent, a DISCONNECT with its
      // reason code say): what the client still sends is read and dropped, so that its kernel is not answered with
      // a reset, which would lose what the broker sent last (and Paho's client raises EPIPE on its next write).
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => {
        client.unpipe(upstream);
        client.on('data', () => {});
        client.end();
        setTimeout(() => client.destroy(), 5000).unref();
      });
    };
    client.on('data', onData);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        clientIds,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
