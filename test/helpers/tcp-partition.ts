/**
 * A TCP relay between one node and Redis, to cut that node off while the rest of the cluster keeps Redis (a network
 * partition): `cut()` drops every relayed connection and refuses new ones, `heal()` accepts again on the same port.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

export interface TcpPartition {
  readonly port: number;
  cut(): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
}

export async function startPartition(targetPort: number): Promise<TcpPartition> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const make = () =>
    createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  const listen = (server: Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  let server: Server | null = make();
  await listen(server, 0);
  const port = (server.address() as { port: number }).port;
  const cut = async () => {
    const closing = server;
    server = null;
    const closed = new Promise<void>((resolve) => (closing ? closing.close(() => resolve()) : resolve()));
    for (const socket of sockets) socket.destroy(); // close() waits for them
    await closed;
  };
  return {
    port,
    cut,
    async heal() {
      if (server) return;
      server = make();
      await listen(server, port);
    },
    close: cut,
  };
}
