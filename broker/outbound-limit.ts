/**
 * The per-client outbound buffer limit (slow consumers).
 *
 * aedes writes a delivery and, when `write()` returns false (the socket's buffer passed its 16 KiB high-water
 * mark), holds that delivery's slot of the broker-wide emitter (100 slots) until the socket drains. One subscriber
 * that stops reading thus stalls every delivery in the broker, the emitter's queue grows with every message
 * published meanwhile (hundreds of MB in seconds), and when the stalled client finally goes, mqemitter drains that
 * queue recursively and the process dies of `RangeError: Maximum call stack size exceeded`
 * (see emitter-guard.ts).
 *
 * Here each verified socket may buffer up to `maxOutboundBuffer` bytes before `write()` says "wait" — so a slow
 * reader never holds a shared slot — and a delivery to a socket already holding more than the limit is not written:
 * the client is cut as SLOW_CONSUMER. Memory per client is bounded by the limit plus one in-flight delivery per slot.
 */
import type { Client } from 'aedes';

interface WritableStateful {
  writableLength: number;
  _writableState?: { highWaterMark?: number };
}

/**
 * Lets the socket buffer up to `limit` bytes before `write()` returns false. Node has no public setter for a
 * TLSSocket's writable high-water mark (the server's `highWaterMark` option reaches only the raw TCP socket), so
 * this sets the stream state's field, which every Node since 10 reads in `write()`.
 */
export function raiseWriteHighWaterMark(socket: object, limit: number): void {
  const state = (socket as WritableStateful)._writableState;
  if (state && typeof state.highWaterMark === 'number' && limit > state.highWaterMark) {
    state.highWaterMark = limit;
  }
}

/** Bytes waiting in the socket for the client to read, or null when the socket is under the limit. */
export function outboundOverLimit(client: Client, limit: number): number | null {
  const waiting = (client.conn as unknown as WritableStateful).writableLength ?? 0;
  return waiting > limit ? waiting : null;
}
