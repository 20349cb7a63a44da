/**
 * The node's connections to Redis and one answer to "is the cluster store reachable right now?". Every connection
 * must be ready, and a PING must come back within a second — a half-open TCP connection (a partition, a frozen
 * Redis) looks "ready" to ioredis for minutes. While the answer is no, the broker takes no new sessions: a node that
 * cannot see the shared sessions and subscriptions would serve from a view that silently diverges.
 */
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';

const PING_EVERY_MS = 500;

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
export function settle(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}
const PING_TIMEOUT_MS = 1000;

export interface RedisLinkEvents {
  detached: [why: string];
  attached: [];
}

export class RedisLink extends EventEmitter<RedisLinkEvents> {
  /** Commands (persistence, CRL store); mqemitter publishes; mqemitter subscriptions; our own control channel. */
  readonly db: Redis;
  readonly pub: Redis;
  readonly sub: Redis;
  readonly control: Redis;
  private why: string | null = 'not connected yet';
  private lastError = '';
  private pinger: NodeJS.Timeout | null = null;
  private pingFailure: string | null = null;

  constructor(options: RedisOptions, name: string) {
    super();
    const base: RedisOptions = {
      ...options,
      // Reconnect quickly and forever: a restarted Redis is back within a second or two.
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      connectTimeout: 2000,
      // Commands wait for Redis to come back instead of failing after 20 reconnects: what a node has acknowledged
      // reaches Redis late rather than never. New sessions are refused meanwhile, which bounds the backlog.
      maxRetriesPerRequest: null,
      lazyConnect: false,
    };
    const make = (role: string) => {
      const connection = new Redis({ ...base, connectionName: `certfleet:${name}:${role}` });
      connection.on('error', (error: Error) => {
        this.lastError = error.message;
        this.update();
      });
      for (const event of ['ready', 'close', 'end', 'reconnecting'])
        connection.on(event, () => this.update());
      return connection;
    };
    this.db = make('db');
    this.pub = make('pub');
    this.sub = make('sub');
    this.control = make('control');
  }

  /** null when every connection is ready and Redis answers; else why not, for the audit. */
  unavailable(): string | null {
    return this.why;
  }

  /** Resolves once attached; rejects with the last error after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.why === null) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('attached', done);
        reject(new Error(this.lastError || this.why || 'no answer'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('attached', done);
    });
  }

  start(): void {
    this.pinger = setInterval(() => void this.ping(), PING_EVERY_MS);
    this.pinger.unref();
  }

  async close(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
    this.removeAllListeners();
    // QUIT waits for Redis; with Redis gone it would wait forever (commands never time out here): cut after 1 s.
    await Promise.all(
      [this.db, this.pub, this.sub, this.control].map((c) =>
        c.status === 'end' ? undefined : settle(c.quit(), 1000).finally(() => c.disconnect()),
      ),
    );
  }

  private async ping(): Promise<void> {
    if (this.db.status !== 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer PING within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.db.ping(), timeout]);
      this.pingFailure = null;
    } catch (error) {
      this.pingFailure = (error as Error).message;
    } finally {
      clearTimeout(timer);
    }
    this.update();
  }

  private update(): void {
    // 'end' only follows quit(): the broker is shutting down (aedes quits the bus's connections first), not a loss.
    if ([this.db, this.pub, this.sub, this.control].some((c) => c.status === 'end')) return;
    const down = [this.db, this.pub, this.sub, this.control].find((c) => c.status !== 'ready');
    const why = down
      ? `Redis connection ${down.options.connectionName} is ${down.status}${this.lastError ? ` (${this.lastError})` : ''}`
      : this.pingFailure;
    if (why === this.why || (why !== null && this.why !== null)) {
      this.why = why ?? this.why;
      return;
    }
    this.why = why;
    if (why === null) {
      this.lastError = '';
      this.emit('attached');
    } else {
      this.emit('detached', why);
    }
  }
}
