/**
 * One MQTT session over an established TLS socket: CONNECT/CONNACK, the command subscription, status and publishes.
 * It reports how it ended with a diagnosis; the device decides what happens next (retry, reject, stop).
 */
import type { TLSSocket } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import {
  type Diagnosis,
  diagnoseCloseAfterHandshake,
  diagnoseConnack,
  diagnoseDisconnect,
  diagnoseSocketError,
} from './diagnosis.ts';
import type { AttemptRecorder } from './ladder.ts';
import type { DeviceSpec } from './spec.ts';
import { topics } from './topics.ts';

/** A close this soon after an unacknowledged publish is the broker refusing that publish (aedes destroys the link). */
const PUBLISH_DENIAL_WINDOW_MS = 2_000;

/**
 * MQTT.js builds a `debug('mqttjs:client')` logger for every client (~1 KiB each: a function with its own property
 * store and accessors); every session shares the first client's instead — the same namespace, so `DEBUG=mqttjs*`
 * still shows every client.
 */
let sharedLog: MqttClient['log'] | undefined;

export interface SessionHooks {
  onOnline(): void;
  /** The session is over; `diagnosis` is null when we ended it ourselves. */
  onEnded(diagnosis: Diagnosis | null): void;
  onMessage(topic: string, payload: Buffer): void;
  onLadder(): void;
}

export class MqttSession {
  readonly client: MqttClient;
  private connacked = false;
  private ended = false;
  private closingByUs = false;
  private lastUnackedPublish: { topic: string; at: number } | undefined;
  private connackReason: string | undefined;
  private disconnectReason: { code: number; text: string | undefined } | undefined;
  private pubackReason: string | undefined;
  private readonly clientId: string;
  /** Our certificate went out just before the session began: a close much later is not a refusal (diagnosis.ts). */
  private readonly startedAt = Date.now();
  /** When the certificate this session presented expires (epoch ms): a close from then on is the expiry cut. */
  certificateNotAfter: number | undefined;

  constructor(
    private readonly socket: TLSSocket,
    spec: DeviceSpec,
    private readonly recorder: AttemptRecorder,
    private readonly hooks: SessionHooks,
  ) {
    this.clientId = spec.clientId;
    this.client = new mqtt.MqttClient(() => socket, {
      // MQTT 5 by default: a refusing broker can then say why (CONNACK/DISCONNECT/PUBACK reason strings)
      protocolVersion: spec.protocolVersion ?? 5,
      clientId: spec.clientId,
      clean: true,
      keepalive: spec.keepaliveSeconds ?? 60,
      reconnectPeriod: 0, // the device reconnects itself, with backoff, and never after a definitive rejection
      connectTimeout: spec.connectTimeoutMs ?? 20_000,
      resubscribe: false,
      ...(sharedLog && { log: sharedLog }),
      ...(spec.username !== undefined && { username: spec.username }),
      ...(spec.password !== undefined && { password: spec.password }),
      ...(spec.will !== false && {
        will: { topic: topics.status(spec.id), payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
    });
    sharedLog ??= this.client.log;
    this.client.on('connect', () => this.onConnack());
    this.client.on('error', (error) => this.onError(error as Error & { code?: string | number }));
    this.client.on('close', () => this.onClose());
    this.client.on('message', (topic, payload) => hooks.onMessage(topic, payload));
    this.client.on('packetreceive', (packet) => {
      // MQTT 5: the broker's own words, read before mqtt.js turns the packet into an error or a close
      const reasonString = (packet as { properties?: { reasonString?: string } }).properties?.reasonString;
      if (packet.cmd === 'connack') this.connackReason = reasonString;
      if (packet.cmd === 'disconnect')
        this.disconnectReason = { code: packet.reasonCode ?? 0, text: reasonString };
      if (packet.cmd === 'puback' && (packet.reasonCode ?? 0) >= 0x80) this.pubackReason = reasonString;
    });
  }

  get localPort(): number | undefined {
    return this.recorder.localPort;
  }

  /** Publishes at QoS 1; resolves true when the broker acknowledged it. */
  publish(topic: string, payload: string | Buffer, options: { retain?: boolean } = {}): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    const sent = { topic, at: Date.now() };
    this.lastUnackedPublish = sent;
    return new Promise((resolve) => {
      this.client.publish(topic, payload, { qos: 1, retain: options.retain ?? false }, (error) => {
        if (this.lastUnackedPublish === sent) this.lastUnackedPublish = undefined;
        const code = (error as (Error & { code?: unknown }) | undefined)?.code;
        if (typeof code === 'number' && code >= 0x80) {
          // MQTT 5: the broker refused this publish with a reason code and kept the session; we end it, as a
          // 3.1.1 broker would have.
          this.finish({
            reason: 'PUBLISH_DENIED',
            step: 'messages-flow',
            detail: this.pubackReason ?? `PUBACK 0x${code.toString(16)} for "${topic}"`,
            definitive: true,
          });
        }
        resolve(!error);
      });
    });
  }

  /** Subscribes at QoS 1; resolves with the filters the broker refused (SUBACK 0x80). */
  subscribe(filters: string[]): Promise<string[] | null> {
    return new Promise((resolve) => {
      this.client.subscribe(filters, { qos: 1 }, (error, granted) => {
        if (!error) {
          resolve((granted ?? []).filter((grant) => grant.qos >= 0x80).map((grant) => grant.topic));
          return;
        }
        // On a refusal mqtt.js attaches the SUBACK packet to the error: return codes in the order of our filters.
        const codes =
          (error as Error & { packet?: { granted?: number[] } }).packet?.granted ??
          (granted as unknown as { granted?: number[] } | undefined)?.granted;
        if (!codes) return resolve(null);
        resolve(filters.filter((_, index) => ((codes[index] ?? 0) & 0x80) !== 0));
      });
    });
  }

  /** Fails the session with a diagnosis the device found itself (e.g. a refused subscription). */
  abort(diagnosis: Diagnosis): void {
    this.finish(diagnosis);
    this.client.end(true);
  }

  /** Ends the session: gracefully (DISCONNECT, no will) or abruptly (like a power cut: the will fires). */
  async close(graceful: boolean): Promise<void> {
    if (this.ended) return;
    this.closingByUs = true;
    this.finish(null);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.end(true);
        resolve();
      }, 2_000);
      this.client.end(!graceful, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.socket.destroy();
  }

  private onConnack(): void {
    this.connacked = true;
    this.recorder.ok('client-verified');
    this.recorder.ok('access-granted');
    this.hooks.onLadder();
    this.hooks.onOnline();
  }

  private onError(error: Error & { code?: string | number }): void {
    if (typeof error.code === 'number' && !this.connacked) {
      this.finish(diagnoseConnack(error.code, this.localPort, this.connackReason));
      return;
    }
    if (typeof error.code === 'number') {
      this.onClose(); // a DISCONNECT with a reason code: onClose reads it
      return;
    }
    if (typeof error.code === 'string') {
      const diagnosis = diagnoseSocketError(error as NodeJS.ErrnoException, {
        tcpConnected: true,
        secureConnected: true,
      });
      // An alert names the reason; any other error before CONNACK is the broker hanging up after the handshake.
      this.finish(
        diagnosis.definitive || this.connacked
          ? diagnosis
          : diagnoseCloseAfterHandshake(this.localPort, Date.now() - this.startedAt),
      );
      return;
    }
    // mqtt.js reports a connack or keepalive timeout without a code.
    this.finish({
      reason: this.connacked ? 'KEEPALIVE_TIMEOUT' : 'TIMEOUT',
      step: this.connacked ? 'messages-flow' : 'access-granted',
      detail: error.message,
      definitive: false,
    });
  }

  private onClose(): void {
    if (this.ended) return;
    if (!this.connacked) {
      this.finish(diagnoseCloseAfterHandshake(this.localPort, Date.now() - this.startedAt));
      return;
    }
    const told = this.disconnectReason;
    if (told && told.code >= 0x80) {
      this.finish(diagnoseDisconnect(told.code, told.text, this.clientId));
      return;
    }
    const notAfter = this.certificateNotAfter;
    if (notAfter !== undefined && Date.now() >= notAfter - 250) {
      this.finish({
        reason: 'EXPIRED',
        step: 'messages-flow', // the only step that can fail after it worked: the ladder shows it there
        detail: `the broker ended the session when our certificate expired (notAfter ${new Date(notAfter).toISOString()})`,
        definitive: true,
      });
      return;
    }
    const unacked = this.lastUnackedPublish;
    if (unacked && Date.now() - unacked.at <= PUBLISH_DENIAL_WINDOW_MS) {
      this.finish({
        reason: 'PUBLISH_DENIED',
        step: 'messages-flow',
        detail: `the broker closed the connection right after our publish to "${unacked.topic}"`,
        definitive: true,
        confirmTwice: 'after-publish',
      });
      return;
    }
    this.finish({
      reason: 'CLOSED_BY_BROKER',
      step: 'messages-flow',
      detail: 'the connection was lost',
      definitive: false,
    });
  }

  private finish(diagnosis: Diagnosis | null): void {
    if (this.ended) return;
    this.ended = true;
    if (diagnosis) {
      this.recorder.fail(diagnosis.step, diagnosis.reason, diagnosis.detail);
      this.hooks.onLadder();
      this.client.end(true);
      this.socket.destroy();
    }
    if (!this.closingByUs) this.hooks.onEnded(diagnosis);
  }
}
