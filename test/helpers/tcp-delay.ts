/**
 * A TCP relay that delays every chunk by a fixed time in each direction, in order: a node whose Redis is a few
 * milliseconds away (another rack, another zone). It stretches whatever a node does between two Redis replies into
 * a window a test can hit every time instead of one run in five.
 */
import { createServer, type Socket, connect } from 'node:net';

export interface TcpDelay {
  readonly port: number;
  close(): Promise<void>;
}

export async function startDelay(targetPort: number, delayMs: number): Promise<TcpDelay> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  // Timers of one duration fire in the order they were set: the byte stream keeps its order.
  const relay = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
    from.once('close', () => setTimeout(() => to.destroy(), delayMs));
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
