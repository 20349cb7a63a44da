/**
 * One connection of one identity, driven step by step by a check (connect, publish, subscribe, watch the session):
 * the device's own TLS dial and MQTT session, without the device's retries, so that each attempt is one verdict.
 */
import { type Diagnosis, diagnoseCredentialLoad } from '../diagnosis.ts';
import type { HandshakeAttempt } from '../events.ts';
import { AttemptRecorder } from '../ladder.ts';
import { MqttSession } from '../session.ts';
import type { DeviceSpec } from '../spec.ts';
import { loadDeviceTls } from '../tls-context.ts';
import { DialError, dialTls } from '../tls-dial.ts';

export interface Received {
  topic: string;
  payload: string;
}

export class ProbeConnection {
  readonly received: Received[] = [];
  private endedWith: Diagnosis | null | undefined;
  private endedAt: number | undefined;
  private readonly endWaiters = new Set<() => void>();
  private readonly messageWaiters = new Set<() => void>();
  session!: MqttSession;

  constructor(readonly spec: DeviceSpec) {}

  /** The diagnosis the session ended with (null: we closed it), or undefined while it is open. */
  get ended(): Diagnosis | null | undefined {
    return this.endedWith;
  }

  get endedAtMs(): number | undefined {
    return this.endedAt;
  }

  onEnded(diagnosis: Diagnosis | null): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = diagnosis;
    this.endedAt = Date.now();
    for (const wake of this.endWaiters) wake();
  }

  onMessage(topic: string, payload: Buffer): void {
    this.received.push({ topic, payload: payload.toString() });
    for (const wake of this.messageWaiters) wake();
  }

  /** Resolves true once the session ended, false after `ms`. */
  waitForEnd(ms: number): Promise<boolean> {
    return this.waitUntil(() => this.endedWith !== undefined, ms, this.endWaiters);
  }

  /** Resolves true once a message with this payload arrived, false after `ms` (or when the session ends). */
  waitForPayload(payload: string, ms: number): Promise<boolean> {
    const seen = () => this.received.some((message) => message.payload === payload);
    return this.waitUntil(() => seen() || this.endedWith !== undefined, ms, this.messageWaiters).then(seen);
  }

  /** A publish at QoS 1: true when acknowledged within `ms`. */
  async publish(topic: string, payload: string, ms = 3_000): Promise<boolean> {
    return race(this.session.publish(topic, payload), ms, false);
  }

  /** The filters the broker refused (SUBACK 0x80); null when it never answered within `ms`. */
  async subscribe(filters: string[], ms = 3_000): Promise<string[] | null> {
    return race(this.session.subscribe(filters), ms, null);
  }

  async close(): Promise<void> {
    if (this.endedWith === undefined) await this.session.close(true);
  }

  private waitUntil(done: () => boolean, ms: number, waiters: Set<() => void>): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        if (!done() && this.endedWith === undefined) return;
        clearTimeout(timer);
        waiters.delete(wake);
        this.endWaiters.delete(wake);
        resolve(done());
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        this.endWaiters.delete(wake);
        resolve(false);
      }, ms);
      waiters.add(wake);
      this.endWaiters.add(wake);
    });
  }
}

export type ProbeResult =
  | { ok: true; connection: ProbeConnection; attempt: HandshakeAttempt }
  | { ok: false; diagnosis: Diagnosis; attempt: HandshakeAttempt; localPort?: number };

/** Connects once: online (CONNACK 0) or the diagnosis of the step that failed. Never retries. */
export async function probeConnect(spec: DeviceSpec, timeoutMs = 10_000): Promise<ProbeResult> {
  const recorder = new AttemptRecorder(1);
  const failed = (diagnosis: Diagnosis): ProbeResult => {
    recorder.fail(diagnosis.step, diagnosis.reason, diagnosis.detail);
    return {
      ok: false,
      diagnosis,
      attempt: recorder.snapshot(),
      ...(recorder.localPort !== undefined && { localPort: recorder.localPort }),
    };
  };
  let tls: Awaited<ReturnType<typeof loadDeviceTls>>;
  try {
    tls = await loadDeviceTls(spec);
  } catch (error) {
    return failed(diagnoseCredentialLoad(error as NodeJS.ErrnoException));
  }
  let socket: Awaited<ReturnType<typeof dialTls>>;
  try {
    socket = await dialTls({ ...spec.broker, tls, timeoutMs, recorder });
  } catch (error) {
    if (error instanceof DialError) return failed(error.diagnosis);
    throw error;
  }
  const connection = new ProbeConnection(spec);
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const settle = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      void connection.session.close(false);
      settle(
        failed({
          reason: 'TIMEOUT',
          step: 'access-granted',
          detail: `no CONNACK within ${timeoutMs} ms`,
          definitive: false,
        }),
      );
    }, timeoutMs);
    // No last will: an observer like the dashboard may not publish a status topic, and a probe needs none.
    connection.session = new MqttSession(
      socket,
      { ...spec, connectTimeoutMs: timeoutMs, will: false },
      recorder,
      {
        onOnline: () => settle({ ok: true, connection, attempt: recorder.snapshot() }),
        onEnded: (diagnosis) => {
          connection.onEnded(diagnosis);
          if (diagnosis) settle(failed(diagnosis));
        },
        onMessage: (topic, payload) => connection.onMessage(topic, payload),
        onLadder: () => {},
      },
    );
  });
}

function race<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    void work.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
