/**
 * A simulated device: an identity, a sensor model and an MQTT session, with its lifecycle
 * (idle → connecting → tls-handshake → mqtt-connect → online, backing-off, paused, rejected, stopped).
 * It reports everything as DeviceEvents; it runs the same in a worker thread or in the main thread (tests).
 */
import { Backoff } from './backoff.ts';
import { parseCommand, runCommand } from './commands.ts';
import { type Diagnosis, diagnoseCredentialLoad } from './diagnosis.ts';
import type { DeviceEvent, DeviceState, HandshakeAttempt, MessageCounters } from './events.ts';
import { AttemptRecorder } from './ladder.ts';
import { createFaultyModel, type FaultyModel } from './models/index.ts';
import { RateGate } from './rate-gate.ts';
import { MqttSession } from './session.ts';
import type { DeviceSpec } from './spec.ts';
import { type DeviceTls, deviceTlsFromPem, loadDeviceTls, readTrustedCa } from './tls-context.ts';
import { type EnrolledIdentity, EnrollmentError, enroll } from './enrollment.ts';
import { DialError, dialTls } from './tls-dial.ts';
import { telemetryPayload, topics } from './topics.ts';

/**
 * How many consecutive ambiguous endings make a verdict. A prompt bare close right after the handshake is a strict
 * broker refusing our certificate — or a broker closing at once under load (its cap on handshakes per address, its
 * refused-peer slots); a late one is never a verdict (diagnosis.ts PROMPT_REFUSAL_MS: a deadline that ran out on a
 * busy broker, retried with backoff for as long as it takes). Four, with the backoff between them, outlasts a burst
 * and costs a strict refusal about 3.5 s more. A close after a publish (a denial under MQTT 3.1.1) is not caused by
 * load: two say it.
 */
const VERDICT_AFTER = { 'after-handshake': 4, 'after-publish': 2 } as const;

export interface DeviceResult {
  id: string;
  kind: string;
  rogue: boolean;
  state: DeviceState;
  /** Rejected: why, and where on the ladder. Backing-off: why the last attempt failed (what it retries after). */
  reason?: string;
  step?: string;
  detail?: string;
  localPort?: number;
  /** For a rejected device: the attempt that ended it, step by step (what the dashboard draws). */
  attempt?: HandshakeAttempt;
  attempts: number;
  messages: MessageCounters;
  /** Certificates renewed over MQTT during the run. */
  rotations: number;
  /** Serial of the certificate in use (after rotations or provisioning: the newest). */
  serial?: string;
  /** `host:port` of the broker (cluster node) the last attempt dialed: where an online device is. */
  broker?: string;
}

const REBOOT_DELAY_MS = 1_000;
/** setTimeout's ceiling: a renewal further away is re-armed when this fires. */
const MAX_TIMER_MS = 2_147_483_647;

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
  /** Which of `spec.brokers` the next attempt dials. */
  private brokerIndex = 0;
  /** `host:port` the last attempt dialed. */
  private dialed: string | undefined;
  /** Consecutive ambiguous endings (see Diagnosis.confirmTwice); VERDICT_AFTER says how many make a verdict. */
  private readonly strikes = { 'after-handshake': 0, 'after-publish': 0 };
  private rejection:
    | { reason: string; step: string; detail: string; localPort?: number; attempt: HandshakeAttempt }
    | undefined;
  /** While backing off: why the last attempt failed (no reason for a reboot: the device closed it itself). */
  private retrying: { reason?: string; step?: string; detail: string } | undefined;
  readonly messages: MessageCounters = { sent: 0, acked: 0, received: 0 };
  /** The client id we connect with: the CN, or `<claim cn>:<ref>` while provisioning by claim. */
  private clientId: string;
  private provisioning: boolean;
  /** The certificate of the current (or last) attempt. */
  private leaf: DeviceTls['leaf'];
  private renewTimer: NodeJS.Timeout | undefined;
  private enrollRequests = 0;
  private rotations = 0;
  /** Set between receiving a new certificate and being online with it. */
  private switching:
    | { kind: 'rotation' | 'claim'; previousSerial: string; identity: EnrolledIdentity; startedAt: number }
    | undefined;
  private answerWaiter: { topic: string; resolve: (payload: Buffer | null) => void } | undefined;

  constructor(
    readonly spec: DeviceSpec,
    private readonly emit: (event: DeviceEvent) => void,
    private readonly gate: RateGate = new RateGate(0),
  ) {
    this.intervalMs = spec.intervalMs;
    this.model = createFaultyModel(spec.profile, spec.seed, spec.faults ?? {});
    this.backoff = new Backoff({ ...spec.backoff, seed: spec.backoff?.seed ?? spec.seed });
    this.provisioning = spec.claim !== undefined;
    this.clientId = spec.claim ? `${spec.claim.cn}:${spec.claim.ref}` : spec.clientId;
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
      ...(this.state === 'backing-off' && this.retrying),
      attempts: this.attempts,
      messages: { ...this.messages },
      rotations: this.rotations,
      ...(this.leaf && { serial: this.leaf.serial }),
      ...(this.dialed && { broker: this.dialed }),
    };
  }

  private async connect(): Promise<void> {
    const recorder = new AttemptRecorder(++this.attempts);
    this.recorder = recorder;
    this.setState('connecting');
    await this.gate.acquire();
    if (this.wanted !== 'run' || this.recorder !== recorder) return this.gate.release();
    let deviceTls: DeviceTls;
    try {
      this.tls ??= loadDeviceTls(this.spec);
      deviceTls = await this.tls;
    } catch (error) {
      this.tls = undefined;
      this.gate.release();
      const diagnosis = diagnoseCredentialLoad(error as NodeJS.ErrnoException);
      recorder.fail(diagnosis.step, diagnosis.reason, diagnosis.detail);
      return this.onAttemptFailed(recorder, diagnosis);
    }
    try {
      const brokers = this.spec.brokers?.length ? this.spec.brokers : [this.spec.broker];
      const target = brokers[this.brokerIndex % brokers.length]!;
      this.dialed = `${target.host}:${target.port}`;
      const socket = await dialTls({
        ...target,
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
      this.leaf = deviceTls.leaf;
      // A claim session has no will: its certificate may publish nothing but a certificate request.
      const spec = {
        ...this.spec,
        clientId: this.clientId,
        ...(this.provisioning && { will: false as const }),
      };
      // Methods, not arrow properties: the session holds these as long as it lives, and under tsx every named arrow
      // function gets a property store of its own for its name (~0.3 KiB each, per device).
      const device = this;
      this.session = new MqttSession(socket, spec, recorder, {
        onOnline() {
          void device.onOnline(recorder);
        },
        onEnded(diagnosis) {
          device.onSessionEnded(recorder, diagnosis);
        },
        onMessage(topic, payload) {
          device.onMessage(topic, payload);
        },
        onLadder() {
          device.emitLadder(recorder);
        },
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
    } finally {
      this.gate.release(); // the TLS handshake is over, either way (rate-gate.ts)
    }
  }

  private async onOnline(recorder: AttemptRecorder): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.backoff.reset();
    this.strikes['after-handshake'] = 0;
    if (this.provisioning) return this.provision(session);
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
    this.reportSwitch();
    this.scheduleRenewal();
  }

  /** Provisioning by claim: ask for our own identity with the claim certificate, then reconnect as it. */
  private async provision(session: MqttSession): Promise<void> {
    const claim = this.spec.claim!;
    let identity: EnrolledIdentity;
    try {
      identity = await enroll(session, {
        topicCn: claim.cn,
        requestedCn: claim.requestedCn,
        ref: claim.ref,
        ...(claim.keyType && { keyType: claim.keyType }),
        awaitAnswer: (topic, timeoutMs) => this.awaitAnswer(topic, timeoutMs),
      });
    } catch (error) {
      if (this.session !== session) return;
      const failure =
        error instanceof EnrollmentError ? error : new EnrollmentError('PROTOCOL_ERROR', String(error));
      session.abort({
        reason: failure.reason,
        step: 'messages-flow',
        detail: `provisioning by claim "${claim.cn}" refused: ${failure.detail}`,
        definitive: true,
      });
      return;
    }
    if (this.session !== session) return;
    await this.switchTo(session, identity, 'claim');
  }

  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const leaf = this.leaf;
    if (this.spec.rotate === false || !leaf) return;
    const fraction = this.spec.renewBefore ?? 0.2;
    const renewAt = leaf.notAfter - fraction * (leaf.notAfter - leaf.notBefore);
    const delay = Math.max(0, renewAt - Date.now());
    this.renewTimer = setTimeout(
      () => (Date.now() >= renewAt ? void this.rotate() : this.scheduleRenewal()),
      Math.min(delay, MAX_TIMER_MS),
    );
  }

  /** Rotation: a new key and certificate over MQTT, then a graceful switch to them. */
  private async rotate(): Promise<void> {
    const session = this.session;
    if (!session || this.state !== 'online' || this.switching) return;
    let identity: EnrolledIdentity;
    try {
      identity = await enroll(session, {
        topicCn: this.spec.id,
        requestedCn: this.spec.id,
        ref: `r${++this.enrollRequests}`,
        awaitAnswer: (topic, timeoutMs) => this.awaitAnswer(topic, timeoutMs),
      });
    } catch (error) {
      const failure =
        error instanceof EnrollmentError ? error : new EnrollmentError('PROTOCOL_ERROR', String(error));
      this.emit({
        type: 'rotation-failed',
        id: this.spec.id,
        reason: failure.reason,
        detail: failure.detail,
        at: Date.now(),
      });
      // Try again while the certificate lives; if it expires first, the broker's cut says EXPIRED.
      const left = (this.leaf?.notAfter ?? 0) - Date.now();
      if (this.session === session && left > 1_000) {
        this.renewTimer = setTimeout(() => void this.rotate(), Math.min(2_000, left / 3));
      }
      return;
    }
    if (this.session !== session || this.state !== 'online') return;
    await this.switchTo(session, identity, 'rotation');
  }

  /**
   * Leaves the session gracefully (DISCONNECT after every in-flight QoS 1 publish was acknowledged, so no message
   * is lost and no will fires) and connects again with the new certificate, kept in memory only.
   */
  private async switchTo(
    session: MqttSession,
    identity: EnrolledIdentity,
    kind: 'rotation' | 'claim',
  ): Promise<void> {
    const ca = await readTrustedCa(this.spec);
    this.tls = Promise.resolve(deviceTlsFromPem(this.spec, ca, identity.chainPem, identity.keyPem));
    this.switching = { kind, previousSerial: this.leaf?.serial ?? '', identity, startedAt: Date.now() };
    if (kind === 'claim') {
      this.provisioning = false;
      this.clientId = this.spec.id;
    }
    clearInterval(this.telemetryTimer);
    clearTimeout(this.renewTimer);
    this.session = undefined;
    this.recorder = undefined;
    await session.close(true);
    if (this.wanted === 'run') void this.connect();
  }

  private reportSwitch(): void {
    const switching = this.switching;
    if (!switching) return;
    this.switching = undefined;
    const { identity } = switching;
    const at = Date.now();
    if (switching.kind === 'claim') {
      this.emit({
        type: 'provisioned',
        id: this.spec.id,
        claim: this.spec.claim?.cn ?? '',
        serial: identity.serial,
        notBefore: identity.notBefore,
        notAfter: identity.notAfter,
        requestMs: identity.requestMs,
        at,
      });
      return;
    }
    this.rotations++;
    this.emit({
      type: 'rotated',
      id: this.spec.id,
      previousSerial: switching.previousSerial,
      serial: identity.serial,
      notBefore: identity.notBefore,
      notAfter: identity.notAfter,
      requestMs: identity.requestMs,
      switchMs: at - switching.startedAt,
      at,
    });
  }

  private awaitAnswer(topic: string, timeoutMs: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.answerWaiter?.topic === topic) this.answerWaiter = undefined;
        resolve(null);
      }, timeoutMs);
      this.answerWaiter = {
        topic,
        resolve: (payload) => {
          clearTimeout(timer);
          resolve(payload);
        },
      };
    });
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
    const waiter = this.answerWaiter;
    if (waiter && topic === waiter.topic) {
      this.answerWaiter = undefined;
      waiter.resolve(payload);
      return;
    }
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
    this.retrying = { detail: 'rebooting' };
    this.setState('backing-off', undefined, 'rebooting');
    this.retryTimer = setTimeout(() => this.wanted === 'run' && void this.connect(), REBOOT_DELAY_MS);
  }

  private onSessionEnded(recorder: AttemptRecorder, diagnosis: Diagnosis | null): void {
    clearInterval(this.telemetryTimer);
    clearTimeout(this.renewTimer);
    this.session = undefined;
    if (diagnosis && this.recorder === recorder) this.onAttemptFailed(recorder, diagnosis);
  }

  private onAttemptFailed(recorder: AttemptRecorder, diagnosis: Diagnosis): void {
    this.emitLadder(recorder);
    if (this.wanted !== 'run') return;
    const ambiguous = diagnosis.confirmTwice;
    const verdict = !ambiguous || ++this.strikes[ambiguous] >= VERDICT_AFTER[ambiguous];
    if (diagnosis.definitive && verdict) {
      const localPort = recorder.localPort;
      this.rejection = {
        reason: diagnosis.reason,
        step: diagnosis.step,
        detail: diagnosis.detail,
        ...(localPort !== undefined && { localPort }),
        attempt: recorder.snapshot(),
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
        attemptStartedAt: recorder.startedAt,
        ...(this.dialed !== undefined && { dialed: this.dialed }),
        at: Date.now(),
      });
      return;
    }
    this.brokerIndex++; // fail over: the next attempt tries the next broker of the cluster
    const delay = this.backoff.next();
    this.retrying = { reason: diagnosis.reason, step: diagnosis.step, detail: diagnosis.detail };
    this.setState('backing-off', diagnosis, `${diagnosis.detail}; retrying in ${delay} ms`);
    this.retryTimer = setTimeout(() => this.wanted === 'run' && void this.connect(), delay);
  }

  private async disconnect(target: 'paused' | 'stopped'): Promise<void> {
    if (this.state === 'rejected') return;
    this.wanted = target;
    clearTimeout(this.retryTimer);
    clearInterval(this.telemetryTimer);
    clearTimeout(this.renewTimer);
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
      // The certificate in use: the dashboard counts its remaining lifetime down (a new one after each rotation).
      ...(state === 'online' &&
        this.leaf && { certificate: { notBefore: this.leaf.notBefore, notAfter: this.leaf.notAfter } }),
      ...(state === 'online' && this.dialed && { broker: this.dialed }),
    });
  }

  private emitLadder(recorder: AttemptRecorder): void {
    this.emit({ type: 'ladder', id: this.spec.id, attempt: recorder.snapshot(), at: Date.now() });
  }
}
