/**
 * Admission before TLS: what a peer may hold before it has proven anything.
 *
 * - Every TCP connection gets an absolute deadline for its TLS handshake. Node's own `handshakeTimeout` is an idle
 *   timer (a peer that trickles a byte now and then resets it) and, once `tlsClientError` has a listener, Node no
 *   longer closes the socket at all: 2,000 silent sockets stayed open past it. Here the socket is destroyed.
 * - At most `maxHandshakes` connections may be handshaking at once; a new one past that evicts the OLDEST (a flood
 *   of silent sockets then cycles through the slots while a real device's handshake, milliseconds long, completes).
 *   One address may hold `maxHandshakesPerAddress` of them; more from it are closed at once.
 * - New connections per address are rate-limited (token bucket), before any TLS work is spent on them.
 *
 * Every refusal goes to `refuse` (audited as `handshake-refused`, aggregated per address by the caller).
 */
import type { Socket } from 'node:net';
import type { Reason } from '../core/reasons.ts';
import { RateLimiter } from './rate-limit.ts';

export interface AdmissionLimits {
  handshakeTimeoutMs: number;
  maxHandshakes: number;
  maxHandshakesPerAddress: number;
  connectionRatePerAddress: number;
}

export interface Refusal {
  reason: Reason;
  peer: { address: string; port: number };
  detail: string;
}

export interface Admission {
  /**
   * The handshake finished (either way): the socket no longer holds a handshake slot. True when admission had
   * already cut it (its refusal is audited: the TLS error that follows is only the echo of that close).
   */
  handshakeDone(socket: { remoteAddress?: string; remotePort?: number }): boolean;
  /** Connections handshaking now. */
  pending(): number;
  /** Closes every connection still handshaking, each audited SERVER_SHUTDOWN. */
  shutdown(): void;
}

interface Pending {
  readonly raw: Socket;
  readonly address: string;
  readonly timer: NodeJS.Timeout;
}

const keyOf = (socket: { remoteAddress?: string; remotePort?: number }) =>
  `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? 0}`;

export function admitConnections(
  server: { on(event: 'connection', listener: (raw: Socket) => void): unknown },
  limits: AdmissionLimits,
  refuse: (refusal: Refusal) => void,
): Admission {
  const pending = new Map<string, Pending>(); // insertion order = age: the first is the oldest
  const perAddress = new Map<string, number>();
  const rate = new RateLimiter(limits.connectionRatePerAddress, limits.connectionRatePerAddress * 2);

  const release = (key: string) => {
    const entry = pending.get(key);
    if (!entry) return;
    pending.delete(key);
    clearTimeout(entry.timer);
    const left = (perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) perAddress.set(entry.address, left);
    else perAddress.delete(entry.address);
  };
  // Sockets cut here: Node then reports a handshake error for the TLS socket on top of them (its `_parent`).
  const cutSockets = new WeakSet<object>();
  const cut = (raw: Socket, reason: Reason, detail: string) => {
    const peer = { address: raw.remoteAddress ?? '?', port: raw.remotePort ?? 0 };
    cutSockets.add(raw);
    raw.destroy();
    refuse({ reason, peer, detail });
  };

  server.on('connection', (raw: Socket) => {
    const address = raw.remoteAddress ?? '?';
    if (!rate.take(address)) {
      return cut(
        raw,
        'LIMIT_EXCEEDED',
        `more than ${limits.connectionRatePerAddress} connections/s from this address`,
      );
    }
    if ((perAddress.get(address) ?? 0) >= limits.maxHandshakesPerAddress) {
      return cut(
        raw,
        'LIMIT_EXCEEDED',
        `${limits.maxHandshakesPerAddress} handshakes already pending from this address`,
      );
    }
    if (pending.size >= limits.maxHandshakes) {
      const [oldestKey, oldest] = pending.entries().next().value as [string, Pending];
      release(oldestKey);
      cut(oldest.raw, 'LIMIT_EXCEEDED', `evicted: the oldest of ${limits.maxHandshakes} pending handshakes`);
    }
    const key = keyOf(raw);
    const timer = setTimeout(() => {
      release(key);
      cut(raw, 'TIMEOUT', `no completed TLS handshake within ${limits.handshakeTimeoutMs} ms`);
    }, limits.handshakeTimeoutMs);
    timer.unref();
    pending.set(key, { raw, address, timer });
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    raw.once('close', () => release(key));
  });

  return {
    handshakeDone(socket) {
      release(keyOf(socket));
      return cutSockets.has((socket as { _parent?: object })._parent ?? socket);
    },
    shutdown() {
      for (const [key, entry] of [...pending]) {
        release(key);
        cut(entry.raw, 'SERVER_SHUTDOWN', 'the broker shut down during the TLS handshake');
      }
    },
    pending: () => pending.size,
  };
}
