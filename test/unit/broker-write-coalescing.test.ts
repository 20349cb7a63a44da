/**
 * Write coalescing (broker/write-coalescing.ts) on a real socket pair: packets written from separate immediates of
 * one turn — as aedes sends deliveries — leave in one write, in order; backpressure still shows; a closed socket is
 * left alone.
 */
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../broker/write-coalescing.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function pair(): Promise<{ sender: Socket; received: () => string }> {
  let text = '';
  const server: Server = createServer((peer) => peer.on('data', (chunk) => (text += chunk)));
  cleanups.push(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sender = new Socket();
  cleanups.push(() => sender.destroy());
  await new Promise<void>((resolve) =>
    sender.connect((server.address() as { port: number }).port, '127.0.0.1', resolve),
  );
  return { sender, received: () => text };
}

/** Counts how the stream hands data to the kernel: one `_writev` with many chunks, or one `_write` each. */
function countFlushes(socket: Socket): { writes: number; writevChunks: number[] } {
  const seen = { writes: 0, writevChunks: [] as number[] };
  const internals = socket as unknown as {
    _write: (...args: unknown[]) => unknown;
    _writev: (chunks: unknown[], ...rest: unknown[]) => unknown;
  };
  const write = internals._write.bind(socket);
  const writev = internals._writev.bind(socket);
  internals._write = (...args) => {
    seen.writes++;
    return write(...args);
  };
  internals._writev = (chunks, ...rest) => {
    seen.writevChunks.push(chunks.length);
    return writev(chunks, ...rest);
  };
  return seen;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('write coalescing', () => {
  it('sends what separate immediates of one turn write as one write, in order', async () => {
    const { sender, received } = await pair();
    coalesceWrites(sender);
    const flushes = countFlushes(sender);
    for (const packet of ['a', 'b', 'c', 'd']) setImmediate(() => sender.write(packet));
    await turn();
    await turn();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(flushes).toEqual({ writes: 0, writevChunks: [4] });
    expect(received()).toBe('abcd');
  });

  it('without it, each immediate is its own write (what it fixes)', async () => {
    const { sender, received } = await pair();
    const flushes = countFlushes(sender);
    for (const packet of ['a', 'b', 'c', 'd']) setImmediate(() => sender.write(packet));
    await turn();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(flushes.writes).toBe(4);
    expect(received()).toBe('abcd');
  });

  it('keeps backpressure: write() says wait past the high-water mark while corked', async () => {
    const { sender } = await pair();
    coalesceWrites(sender);
    expect(sender.write(Buffer.alloc(1024))).toBe(true);
    expect(sender.write(Buffer.alloc(sender.writableHighWaterMark))).toBe(false);
    expect(sender.writableLength).toBeGreaterThan(sender.writableHighWaterMark);
  });

  it('a socket destroyed before the turn ends is not touched again', async () => {
    const { sender } = await pair();
    coalesceWrites(sender);
    sender.write('x');
    sender.destroy();
    await turn();
    await turn();
    expect(sender.destroyed).toBe(true);
  });
});
