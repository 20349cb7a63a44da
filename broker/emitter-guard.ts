/**
 * Guards aedes' message emitter (mqemitter) against two ways it takes the broker down under load:
 *
 * 1. Recursion. mqemitter runs at most `concurrency` messages at once and queues the rest; when a message
 *    completes, it starts the next queued one synchronously, and a message nobody is subscribed to completes
 *    synchronously too (fastparallel calls back at once for zero subscribers). A long queue of such messages —
 *    typical right after a stalled subscriber was cut — recurses once per message until `RangeError: Maximum call
 *    stack size exceeded` kills the process. Here a queued message started 100 levels deep goes round the event
 *    loop instead, keeping its slot so that order is preserved.
 * 2. An unbounded queue. aedes reads a publisher's socket again as soon as it is readable, without waiting for its
 *    previous publishes to be delivered, so a fast publisher can queue messages faster than they are delivered.
 *    Past `maxBacklog` queued messages the publishing client is paused (its socket is not read: TCP pushes back on
 *    it), and resumed once the queue is down to half.
 *
 * Both reach into mqemitter 7's fields (`_do`, `_messageQueue`, `current`); if they are ever missing the guard
 * does nothing rather than break the broker.
 */
import type { Client } from 'aedes';

/** aedes clients can stop and resume reading their socket; its type declarations do not say so. */
type Pausable = Client & { pause?: () => void; resume?: () => void };

interface EmitterInternals {
  _do?: (message: unknown, callback: unknown) => unknown;
  _messageQueue?: unknown[];
  current?: number;
}

/** Nested starts allowed before going round the event loop: a few frames each, far from Node's stack size. */
const MAX_DEPTH = 100;

export interface EmitterGuard {
  /** Queued messages now. */
  backlog(): number;
  /** Call for each client publish: pauses the publisher while the backlog is over the limit. */
  throttle(client: Client): void;
}

export function guardEmitter(mq: unknown, maxBacklog: number): EmitterGuard {
  const emitter = mq as EmitterInternals;
  const original = emitter._do;
  const queue = emitter._messageQueue;
  if (typeof original !== 'function' || !Array.isArray(queue) || typeof emitter.current !== 'number') {
    return { backlog: () => 0, throttle: () => {} };
  }
  const paused = new Set<Pausable>();
  const resumeWhenDrained = () => {
    if (paused.size === 0 || queue.length > maxBacklog / 2) return;
    const clients = [...paused];
    paused.clear();
    setImmediate(() => {
      for (const client of clients) if (!client.closed) client.resume?.();
    });
  };
  let depth = 0;
  emitter._do = function guardedDo(message: unknown, callback: unknown) {
    resumeWhenDrained();
    if (depth >= MAX_DEPTH) {
      (emitter.current as number)++; // keep the slot: a message emitted meanwhile queues behind this one
      setImmediate(() => {
        (emitter.current as number)--;
        depth++;
        try {
          original.call(emitter, message, callback);
        } finally {
          depth--;
        }
      });
      return emitter;
    }
    depth++;
    try {
      return original.call(emitter, message, callback);
    } finally {
      depth--;
    }
  };
  return {
    backlog: () => queue.length,
    throttle(client: Pausable) {
      if (queue.length <= maxBacklog || paused.has(client) || typeof client.pause !== 'function') return;
      paused.add(client);
      client.pause();
    },
  };
}
