/**
 * The other direction of mutual TLS: a "broker" whose certificate comes from a foreign CA (the rogue kit's
 * impostor-broker identity, SAN localhost/127.0.0.1). A real device must refuse it at step 3; it never gets further.
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { rogueCredential } from '../pki/index.ts';
import type { BrokerAddress } from './spec.ts';

export interface ImpostorBroker {
  address: BrokerAddress;
  /** How many clients connected to it (TCP): proves a device really reached it before refusing it. */
  connections: () => number;
  close: () => Promise<void>;
}

export async function startImpostorBroker(stateDir: string, host = '127.0.0.1'): Promise<ImpostorBroker> {
  const credential = await rogueCredential(stateDir, 'impostor-broker');
  if (!credential) throw new Error('the rogue kit has no impostor-broker credential');
  const [cert, key] = await Promise.all([
    readFile(credential.paths.chain, 'utf8'),
    readFile(credential.paths.key, 'utf8'),
  ]);
  let connections = 0;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert, key }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    // It would happily read whatever a fooled device sends; it answers nothing.
    socket.resume();
  });
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: { host, port },
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
