/**
 * A simulated device: an identity, a sensor model and an MQTT session, with its lifecycle
 * (idle → connecting → tls-handshake → mqtt-connect → online, backing-off, paused, rejected, stopped).
 * It reports everything as DeviceEvents; it runs the same in a worker thread or in the main thread (tests).
 */
import { Backoff } from './backoff.ts';
import { parseCommand, runCommand } from './commands.ts';
import { type Diagnosis, diagnoseCredentialLoad } from './diagnosis.ts';
import type { DeviceEvent, DeviceState, MessageCounters } from './events.ts';
import { AttemptRecorder } from './ladder.ts';
import { createFaultyModel, type FaultyModel } from './models/index.ts';
import { RateGate } from './rate-gate.ts';
import { MqttSession } from './session.ts';
import type { DeviceSpec } from './spec.ts';
import { type DeviceTls, loadDeviceTls } from './tls-context.ts';
import { DialError, dialTls } from './tls-dial.ts';
import { telemetryPayload, topics } from './topics.ts';

export interface DeviceResult {
  id: string;
  kind: string;
  rogue: boolean;
  state: DeviceState;
  reason?: string;
  step?: string;
  detail?: string;
  localPort?: number;
  attempts: number;
  messages: MessageCounters;
}

const REBOOT_DELAY_MS = 1_000;

export class SimulatedDevice {
  private state: DeviceState = 'idle';
  private wanted: 'run' | 'paused' | 'stopped' = 'stopped';
  private session: MqttSession | undefined;
  private recorder: AttemptRecorder | undefined;
  private attempts = 0;
  private seq = 0;
  private intervalMs: number;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private tls: Promise<DeviceTls> | undefined;
  private readonly model: FaultyModel;
  private readonly backoff: Backoff;
  /** Consecutive ambiguous endings (see Diagnosis.confirmTwice): one could be chance, two is a verdict. */
  private readonly strikes = { 'after-handshake': 0, 'after-publish': 0 };
  private rejection: { reason: string; step: string; detail: string; localPort?: number } | undefined;
  readonly messages: MessageCounters = { sent: 0, acked: 0, received: 0 };

  constructor(
    readonly spec: DeviceSpec,
    private readonly emit: (event: DeviceEvent) => void,
    private readonly gate: RateGate = new RateGate(0),
  ) {
    this.intervalMs = spec.intervalMs;
    this.model = createFaultyModel(spec.profile, spec.seed, spec.faults ?? {});
    this.backoff = new Backoff({ ...spec.backoff, seed: spec.backoff?.seed ?? spec.seed });
  }

  get currentState(): DeviceState {
    return this.state;
  }

  start(): void {
    if (this.wanted === 'run' || this.state === 'rejected') return;
    this.wanted = 'run';
    void this.connect();
  }

  pause(): Promise<void> {
    return this.disconnect('paused');
  }

  resume(): void {
    if (this.state === 'paused' || this.state === 'stopped' || this.state === 'idle') this.start();
  }

  stop(): Promise<void> {
    return this.disconnect('stopped');
  }

  /** Runs a command as if it had arrived on the command topic (the fleet's "send command"). */
  command(name: string, payload: Buffer = Buffer.alloc(0)): void {
    this.onMessage(topics.commandPrefix(this.spec.id) + name, payload);
  }

  result(): DeviceResult {
    return {
      id: this.spec.id,
      kind: this.spec.kind,
      rogue: this.spec.rogue,
      state: this.state,
      ...this.rejection,
      attempts: this.attempts,
      messages: { ...this.messages },
    };
  }

  private async connect(): Promise<void> {
    const recorder = new AttemptRecorder(++this.attempts);
    this.recorder = recorder;
    this.setState('connecting');
    await this.gate.acquire();
    if (this.wanted !== 'run' || this.recorder !== recorder) return;
    let deviceTls: DeviceTls;
    try {
      this.tls ??= loadDeviceTls(this.spec);
      deviceTls = await this.tls;
    } catch (error) {
      this.tls = undefined;
      const diagnosis = diagnoseCredentialLoad(error as NodeJS.ErrnoException);
      recorder.fail(diagnosis.step, diagnosis.reason, diagnosis.detail);
      return this.onAttemptFailed(recorder, diagnosis);
    }
    try {
      const socket = await dialTls({
        ...this.spec.broker,
        tls: deviceTls,
        timeoutMs: this.spec.connectTimeoutMs ?? 20_000,
        recorder,
        onTcpConnected: () => {
          this.emitLadder(recorder);
          this.setState('tls-handshake');
        },
      });
      if (this.wanted !== 'run' || this.recorder !== recorder) {
        socket.destroy();
        return;
      }
      this.emitLadder(recorder);
      this.setState('mqtt-connect');
      this.session = new MqttSession(socket, this.spec, recorder, {
        onOnline: () => void this.onOnline(recorder),
        onEnded: (diagnosis) => this.onSessionEnded(recorder, diagnosis),
        onMessage: (topic, payload) => this.onMessage(topic, payload),
        onLadder: () => this.emitLadder(recorder),
      });
      this.session.certificateNotAfter = deviceTls.leaf?.notAfter;
    } catch (error) {
      if (error instanceof DialError) return this.onAttemptFailed(recorder, error.diagnosis);
      // Not a diagnosis but a bug: say it loudly and stop this device rather than loop on it.
      this.emit({
        type: 'error',
        id: this.spec.id,
        message: (error as Error)?.stack ?? String(error),
        at: Date.now(),
      });
      this.wanted = 'stopped';
      this.setState('stopped');
    }
  }

  private async onOnline(recorder: AttemptRecorder): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.backoff.reset();
    this.strikes['after-handshake'] = 0;
    this.setState('online');
    const behaviour = this.spec.behaviour;
    const filters =
      behaviour === 'wildcard-snoop'
        ? ['#', `devices/${this.spec.victim ?? '+'}/telemetry`]
        : [topics.commands(this.spec.id)];
    const refused = await session.subscribe(filters);
    if (refused && refused.length > 0) {
      session.abort({
        reason: 'SUBSCRIBE_DENIED',
        step: 'messages-flow',
        detail: `the broker refused the subscription to ${refused.map((filter) => `"${filter}"`).join(', ')} (SUBACK 0x80)`,
        definitive: true,
      });
      return;
    }
    if (this.session !== session) return;
    recorder.ok('messages-flow');
    this.emitLadder(recorder);
    if (behaviour !== 'topic-overreach')
      void session.publish(topics.status(this.spec.id), 'online', { retain: true }).then((ok) => {
        if (ok) this.strikes['after-publish'] = 0;
      });
    this.publishTelemetry();
    this.scheduleTelemetry();
  }

  private telemetryTopic(): string {
    const target =
      this.spec.behaviour === 'topic-overreach' ? (this.spec.victim ?? 'sensor-001') : this.spec.id;
    return topics.telemetry(target);
  }

  private scheduleTelemetry(): void {
    clearInterval(this.telemetryTimer);
    this.telemetryTimer = setInterval(() => this.publishTelemetry(), this.intervalMs);
  }

  private publishTelemetry(): void {
    const session = this.session;
    if (!session || this.state !== 'online') return;
    const at = Date.now();
    const sample = this.model.sample(at);
    if (!sample) return; // a dropout: the sample is lost
    const seq = ++this.seq;
    this.messages.sent++;
    void session
      .publish(this.telemetryTopic(), telemetryPayload(this.spec.id, seq, at, sample.reading))
      .then((ok) => {
        if (ok) this.messages.acked++;
      });
    this.emit({
      type: 'telemetry',
      id: this.spec.id,
      seq,
      reading: sample.fault ? { ...sample.reading, fault: sample.fault } : sample.reading,
      at,
      messages: { ...this.messages },
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    this.messages.received++;
    // Only a snooping rogue receives anything but its own commands; it must not answer what it overhears.
    if (!topic.startsWith(topics.commandPrefix(this.spec.id))) return;
    const request = parseCommand(topic, topics.commandPrefix(this.spec.id), payload);
    const receivedAt = Date.now();
    const outcome = runCommand(this.spec.id, request, receivedAt);
    const body = outcome.reply;
    if (outcome.intervalMs !== undefined) {
      this.intervalMs = outcome.intervalMs;
      if (this.state === 'online') this.scheduleTelemetry();
    }
    const sent =
      this.session?.publish(topics.replies(this.spec.id), JSON.stringify(body)) ?? Promise.resolve(false);
    this.emit({
      type: 'command',
      id: this.spec.id,
      command: request.name,
      result: body.result,
      at: receivedAt,
    });
    if (outcome.reboot) void sent.then(() => this.reboot());
  }

  /** Like a power cycle: the connection drops without DISCONNECT (the broker publishes our will), then we return. */
  private async reboot(): Promise<void> {
    if (this.wanted !== 'run') return;
    clearInterval(this.telemetryTimer);
    const session = this.session;
    this.session = undefined;
    this.recorder = undefined;
    await session?.close(false);
    this.setState('backing-off', undefined, 'rebooting');
    this.retryTimer = setTimeout(() => this.wanted === 'run' && void this.connect(), REBOOT_DELAY_MS);
  }

  private onSessionEnded(recorder: AttemptRecorder, diagnosis: Diagnosis | null): void {
    clearInterval(this.telemetryTimer);
    this.session = undefined;
    if (diagnosis && this.recorder === recorder) this.onAttemptFailed(recorder, diagnosis);
  }

  private onAttemptFailed(recorder: AttemptRecorder, diagnosis: Diagnosis): void {
    this.emitLadder(recorder);
    if (this.wanted !== 'run') return;
    const strikes = diagnosis.confirmTwice ? ++this.strikes[diagnosis.confirmTwice] : 2;
    if (diagnosis.definitive && strikes >= 2) {
      const localPort = recorder.localPort;
      this.rejection = {
        reason: diagnosis.reason,
        step: diagnosis.step,
        detail: diagnosis.detail,
        ...(localPort !== undefined && { localPort }),
      };
      this.wanted = 'stopped';
      this.setState('rejected', diagnosis);
      this.emit({
        type: 'rejected',
        id: this.spec.id,
        reason: diagnosis.reason,
        step: diagnosis.step,
        detail: diagnosis.detail,
        ...(localPort !== undefined && { localPort }),
        at: Date.now(),
      });
      return;
    }
    const delay = this.backoff.next();
    this.setState('backing-off', diagnosis, `${diagnosis.detail}; retrying in ${delay} ms`);
    this.retryTimer = setTimeout(() => this.wanted === 'run' && void this.connect(), delay);
  }

  private async disconnect(target: 'paused' | 'stopped'): Promise<void> {
    if (this.state === 'rejected') return;
    this.wanted = target;
    clearTimeout(this.retryTimer);
    clearInterval(this.telemetryTimer);
    this.recorder = undefined;
    const session = this.session;
    this.session = undefined;
    if (session && this.state === 'online') {
      // A clean goodbye: the retained status says offline, and DISCONNECT suppresses the will.
      await Promise.race([
        session.publish(topics.status(this.spec.id), 'offline', { retain: true }),
        new Promise((resolve) => setTimeout(resolve, 1_000)),
      ]);
    }
    await session?.close(true);
    this.setState(target);
  }

  private setState(state: DeviceState, diagnosis?: Diagnosis, detail?: string): void {
    if (state === this.state && state !== 'backing-off') return;
    const previous = this.state;
    this.state = state;
    this.emit({
      type: 'state',
      id: this.spec.id,
      state,
      previous,
      at: Date.now(),
      ...(diagnosis && { reason: diagnosis.reason }),
      ...((detail ?? diagnosis?.detail) !== undefined && { detail: detail ?? diagnosis?.detail }),
      messages: { ...this.messages },
    });
  }

  private emitLadder(recorder: AttemptRecorder): void {
    this.emit({ type: 'ladder', id: this.spec.id, attempt: recorder.snapshot(), at: Date.now() });
  }
}
