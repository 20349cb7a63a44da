/**
 * Admission before TLS: what a peer may hold before it has proven anything, and how much handshake work the broker
 * takes on at once.
 *
 * - Every TCP connection gets an absolute deadline for its TLS handshake. Node's own `handshakeTimeout` is an idle
 *   timer (a peer that trickles a byte now and then resets it) and, once `tlsClientError` has a listener, Node no
 *   longer closes the socket at all: 2,000 silent sockets stayed open past it. Here the socket is destroyed.
 * - CPU overload: TLS handshakes run inside the event loop, so when they are CPU-bound the loop lags, and every
 *   handshake in flight waits that lag again at each of its steps. Evicting in-flight work then throws away
 *   almost-finished handshakes and feeds a collapse (a scale run at 250 dials/s, load ~20: ~17,800 handshakes cut at
 *   the deadline, 2,340 of 3,000 devices online). So while the loop is behind by an eighth of the deadline, the
 *   broker finishes what it started and takes on no more (at least FLOOR stay in flight): a new connection is closed
 *   at once, before any TLS work, audited BROKER_BUSY, and the device retries later with its backoff.
 * - At `maxHandshakes` in flight likewise — unless one of them has gone half the deadline (plus the loop's lag)
 *   without a byte from its peer: a silent socket or a ClientHello left hanging gives its slot to the newcomer, so a
 *   flood of them cycles through the slots while a real device's handshake, milliseconds long, completes. So does,
 *   while the loop is not behind, the oldest handshake once it has run half the deadline (a peer trickling bytes).
 * - One address may hold `maxHandshakesPerAddress` handshakes; more from it are closed at once. New connections per
 *   address are rate-limited (token bucket), before any TLS work is spent on them.
 *
 * Every refusal goes to `refuse` (audited as `handshake-refused`, aggregated per address and reason by the caller).
 */
import type { Socket } from 'node:net';
import type { Reason } from '../core/reasons.ts';
import { type LoopLag, watchLoopLag } from './loop-lag.ts';
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
   * The handshake finished (either way): the socket no longer holds a handshake slot, and it knows its peer's address
   * without asking the kernel again. True when admission had already cut it (its refusal is audited: the TLS error
   * that follows is only the echo of that close).
   */
  handshakeDone(socket: { remoteAddress?: string; remotePort?: number }): boolean;
  /** Connections handshaking now. */
  pending(): number;
  /** Handshakes the broker takes on at once now (see the capacity rule above). */
  capacity(): number;
  /** Closes every connection still handshaking, each audited SERVER_SHUTDOWN. */
  shutdown(): void;
}

/** Handshakes always taken on, however far behind the loop is: the broker keeps working on something. */
const FLOOR = 16;

interface Pending {
  readonly raw: Socket;
  readonly address: string;
  readonly timer: NodeJS.Timeout;
  /** Bytes read from the peer when last looked at, and since when that count has not moved. */
  bytes: number;
  quietSince: number;
  readonly admittedAt: number;
}

const keyOf = (socket: { remoteAddress?: string; remotePort?: number }) =>
  `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? 0}`;

/** Node's cache of a socket's peer address (net.Socket `_peername`): filled by the first read of `remoteAddress`. */
type PeerNameCache = { _peername?: object; _parent?: PeerNameCache };

/**
 * The TLS socket over a raw TCP socket: given the peer address admission already read on the raw one. Node keeps a
 * cache per socket, and the TLS socket's first `remoteAddress` would ask the kernel again (getpeername(2) on the
 * same TCP handle) — once per connection, for the same answer. Returns the raw socket.
 */
function carryPeerAddress(socket: object): object {
  const tlsSocket = socket as PeerNameCache;
  const raw = tlsSocket._parent;
  if (!raw) return socket;
  if (raw._peername && !tlsSocket._peername) tlsSocket._peername = raw._peername;
  return raw;
}

export function admitConnections(
  server: { on(event: 'connection', listener: (raw: Socket) => void): unknown },
  limits: AdmissionLimits,
  refuse: (refusal: Refusal) => void,
  /** The loop-lag sampler, told whether handshakes are in flight (it runs only while some are). */
  watchLag: (active: () => boolean) => LoopLag = (active) => watchLoopLag({ active }),
): Admission {
  // Ordered by how long the peer has been quiet: the first is the one that has gone longest without a byte.
  const pending = new Map<string, Pending>();
  const lag = watchLag(() => pending.size > 0);
  const perAddress = new Map<string, number>();
  const rate = new RateLimiter(limits.connectionRatePerAddress, limits.connectionRatePerAddress * 2);
  // A handshake needs a few loop turns: behind by this much, the ones in flight would barely make their deadline.
  const overloadLagMs = limits.handshakeTimeoutMs / 8;
  // A real client answers each flight in milliseconds; one starved of CPU may take seconds, and its handshake is
  // still worth finishing. Quiet for half the deadline, it would hardly make the rest.
  const quietLimitMs = limits.handshakeTimeoutMs / 2;
  /** Handshakes taken on at once now: all `maxHandshakes` — or, while the loop is behind, no more than are in flight. */
  const capacity = (behind: number) =>
    behind >= overloadLagMs
      ? Math.min(limits.maxHandshakes, Math.max(FLOOR, pending.size))
      : limits.maxHandshakes;

  const release = (key: string): boolean => {
    const entry = pending.get(key);
    if (!entry) return false;
    pending.delete(key);
    clearTimeout(entry.timer);
    const left = (perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) perAddress.set(entry.address, left);
    else perAddress.delete(entry.address);
    return true;
  };
  // Sockets cut here: Node then reports a handshake error for the TLS socket on top of them (its `_parent`).
  const cutSockets = new WeakSet<object>();
  const cut = (raw: Socket, reason: Reason, detail: string) => {
    const peer = { address: raw.remoteAddress ?? '?', port: raw.remotePort ?? 0 };
    cutSockets.add(raw);
    raw.destroy();
    refuse({ reason, peer, detail });
  };

  /**
   * The handshake whose peer has been quiet longest, if that is `quietLimitMs` (+ lag) or more. Entries whose peer sent
   * something since they were last looked at move to the back, so the scan stops at the first quiet one.
   */
  const stalled = (now: number, behind: number): [string, Pending] | undefined => {
    for (const [key, entry] of pending) {
      const bytes = entry.raw.bytesRead;
      if (bytes !== entry.bytes) {
        entry.bytes = bytes;
        entry.quietSince = now;
        pending.delete(key);
        pending.set(key, entry);
        continue;
      }
      // Bytes are read in the same loop turn that works on them: a loop `behind` ms late delays both.
      return now - entry.quietSince >= quietLimitMs + behind ? [key, entry] : undefined;
    }
    return undefined;
  };
  /**
   * The oldest handshake, if it has run half the deadline (+ lag) while the loop is NOT behind: then the broker is not
   * what it waits for — its peer is (one trickling bytes just fast enough not to look quiet) — so its slot goes too.
   */
  const overdue = (now: number, behind: number): [string, Pending] | undefined => {
    if (behind >= overloadLagMs) return undefined; // CPU-bound: the old ones are the almost-finished ones
    let oldest: [string, Pending] | undefined;
    for (const item of pending) if (!oldest || item[1].admittedAt < oldest[1].admittedAt) oldest = item;
    return oldest && now - oldest[1].admittedAt >= quietLimitMs + behind ? oldest : undefined;
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
    lag.wake(); // a handshake may begin: sample the loop while any is in flight (idle, the sampler sleeps)
    const now = performance.now();
    const behind = lag.now();
    const cap = capacity(behind);
    if (pending.size >= cap) {
      const quiet = stalled(now, behind);
      const victim = quiet ?? overdue(now, behind);
      if (!victim) {
        return cut(
          raw,
          'BROKER_BUSY',
          `${pending.size} TLS handshakes in progress (capacity now ${cap}, event loop ${behind} ms behind): ` +
            'closed before any TLS work',
        );
      }
      const [victimKey, entry] = victim;
      release(victimKey);
      const why = quiet
        ? `no byte from the peer for ${Math.round(now - entry.quietSince)} ms`
        : `still handshaking after ${Math.round(now - entry.admittedAt)} ms`;
      cut(entry.raw, 'LIMIT_EXCEEDED', `evicted: ${why} while ${pending.size + 1} handshakes were pending`);
    }
    const key = keyOf(raw);
    const timer = setTimeout(() => {
      release(key);
      cut(raw, 'TIMEOUT', `no completed TLS handshake within ${limits.handshakeTimeoutMs} ms`);
    }, limits.handshakeTimeoutMs);
    timer.unref();
    pending.set(key, { raw, address, timer, bytes: 0, quietSince: now, admittedAt: now });
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    raw.once('close', () => release(key));
  });

  return {
    handshakeDone(socket) {
      const raw = carryPeerAddress(socket);
      release(keyOf(socket));
      return cutSockets.has(raw);
    },
    shutdown() {
      lag.stop();
      for (const [key, entry] of [...pending]) {
        release(key);
        cut(entry.raw, 'SERVER_SHUTDOWN', 'the broker shut down during the TLS handshake');
      }
    },
    pending: () => pending.size,
    capacity: () => capacity(lag.now()),
  };
}
