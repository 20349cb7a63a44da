/**
 * The dashboard's state: reduces the fleet's DeviceEvents and the broker's audit records into a view model.
 * Reducing is O(1) per event (thousands of events per second are fine); listeners are told at most once per frame
 * (frameMs), so the UI repaints at a capped rate however fast events arrive. Each DeviceView is replaced, never
 * mutated, when it changes, so rows can be memoized by identity.
 */
import { REASONS } from '../../core/reasons.ts';
import type { DeviceEvent, DeviceState } from '../../devices/events.ts';
import { STEP_LABELS, stepNumber } from '../../core/ladder.ts';
import type { AuditRecord } from '../../core/audit.ts';
import { summarizeAudit } from './audit.ts';
import { FrameScheduler } from './frame-scheduler.ts';
import { primaryValue, RateCounter } from './sparkline.ts';
import type {
  BrokerInfo,
  Counts,
  DeviceView,
  Feedback,
  LogEntry,
  LogLevel,
  LogSource,
  TrafficEntry,
} from './types.ts';

const LOG_LIMIT = 2000;
const LARGE_FLEET = 300;
const RECENT_PER_DEVICE = 8;
const TRAFFIC_PER_DEVICE = 10;
/** Audit events that say a client exists: one the dashboard did not start becomes an "external" row. */
const EXTERNAL_STATES: Record<string, DeviceState> = {
  'connection-accepted': 'online',
  'handshake-refused': 'rejected',
  'connect-refused': 'rejected',
  disconnected: 'stopped',
};
/** Identities that are part of certfleet itself, never listed as devices. */
const OWN_IDENTITIES = new Set(['dashboard', 'server']);
const SERIES_LENGTH = 24;
const FEEDBACK_MS = 6000;
/** States worth a line in the shared log; the rest (connecting, tls-handshake…) only go to the device's own list. */
const LOGGED_STATES = new Set<DeviceState>(['online', 'backing-off', 'paused', 'stopped']);

export interface FleetStoreOptions {
  /** Minimum time between two notifications to listeners (the frame cap). */
  frameMs?: number;
  now?: () => number;
}

export class FleetStore {
  readonly devices = new Map<string, DeviceView>();
  /** Device ids in the order they were added: the list's order. */
  readonly order: string[] = [];
  readonly log: LogEntry[] = [];
  readonly counts: Counts = { total: 0, online: 0, rejected: 0 };
  broker?: BrokerInfo;
  feedback?: Feedback;
  /** Bumped on every change: what a React hook compares. */
  version = 0;

  private readonly rate = new RateCounter(5);
  private readonly frames: FrameScheduler;
  private readonly now: () => number;
  private seq = 0;
  /** Local TCP port of a device's latest attempt → device id: attributes audit records without a CN. */
  private readonly byPort = new Map<number, string>();
  /** Waiters of waitFor(), checked on every change (not once per frame). */
  private readonly watchers = new Set<() => void>();

  constructor(options: FleetStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    const frameMs = options.frameMs ?? 100;
    // A big fleet changes something on screen in nearly every frame; each full frame costs tens of ms of Ink
    // layout and output, so past a few hundred devices the data refresh halves (keys still repaint at once).
    this.frames = new FrameScheduler(
      () => (this.counts.total > LARGE_FLEET ? frameMs * 2 : frameMs),
      this.now,
    );
  }

  messagesPerSecond(): number {
    return this.rate.perSecond(this.now());
  }

  subscribe(listener: () => void): () => void {
    return this.frames.subscribe(listener);
  }

  setBroker(info: BrokerInfo): void {
    this.broker = info;
    this.changed();
  }

  /** The broker process is gone: the header says so in red until the dashboard stops. */
  setBrokerDown(why: string): void {
    if (this.broker) this.broker = { ...this.broker, down: why };
    this.changed();
  }

  /** Records a UI action's outcome: a log line, and the footer feedback. */
  note(text: string, level: LogLevel = 'info', id?: string): void {
    this.feedback = { text, level, until: this.now() + FEEDBACK_MS };
    this.append('ui', level, text, id);
    this.changed();
  }

  /** A broker audit record from the audit topic (null: the payload was not one, and is ignored). */
  applyAudit(record: AuditRecord | null): void {
    if (!record) return;
    const summary = summarizeAudit(record);
    // The TCP connection names the device exactly; the certificate's CN does not when two devices share one (a
    // second rogue of a kind reuses the first one's credential and client id).
    const byConnection = summary.remotePort === undefined ? undefined : this.byPort.get(summary.remotePort);
    const id = byConnection ?? summary.id;
    const entry = this.append('broker', summary.level, summary.text, id, summary.at);
    if (id !== undefined && !this.devices.has(id)) this.addExternal(id, summary.event, entry);
    const device = id === undefined ? undefined : this.devices.get(id);
    if (device) {
      const external = device.external ? this.externalPatch(device, summary.event, summary.reason) : {};
      // In a cluster: the node that accepted the session is where the device is now.
      const node = summary.event === 'connection-accepted' && record.node ? { node: record.node } : {};
      this.update(device, { ...external, ...node, recent: withRecent(device.recent, entry) });
    }
    this.changed();
  }

  /** A client the broker saw that the dashboard did not start: listed, marked external, with its audit. */
  private addExternal(id: string, event: string, entry: LogEntry): void {
    if (OWN_IDENTITIES.has(id) || EXTERNAL_STATES[event] === undefined) return;
    this.order.push(id);
    this.counts.total++;
    const view: DeviceView = {
      id,
      kind: 'external',
      rogue: false,
      external: true,
      state: 'idle',
      revoked: false,
      messages: 0,
      series: [],
      recent: [],
      traffic: [],
      addedAt: entry.at,
    };
    this.devices.set(id, view);
  }

  private externalPatch(device: DeviceView, event: string, reason?: string): Partial<DeviceView> {
    const state = EXTERNAL_STATES[event];
    if (state === undefined) return {};
    const failed = reason !== undefined && reason !== 'OK';
    return {
      state,
      reason: failed ? (reason as DeviceView['reason']) : state === 'online' ? undefined : device.reason,
    };
  }

  /** A device's reply to a command, as the dashboard received it over MQTT (devices/{id}/replies). */
  applyReply(topic: string, payload: string): void {
    const id = topic.split('/')[1];
    let text = payload;
    try {
      const reply = JSON.parse(payload) as { command?: string; ok?: boolean; result?: string };
      text = `${reply.command ?? '?'} ${reply.ok === false ? 'failed' : 'ok'}: ${reply.result ?? ''}`;
    } catch {
      // not JSON: show it as it came
    }
    const entry = this.append('device', 'info', `reply from ${id}: ${text}`, id);
    const device = id === undefined ? undefined : this.devices.get(id);
    if (device) {
      this.update(device, {
        recent: withRecent(device.recent, entry),
        traffic: withTraffic(device.traffic, { at: entry.at, direction: 'out', topic, text: payload }),
      });
    }
    this.changed();
  }

  applyDeviceEvent(event: DeviceEvent): void {
    switch (event.type) {
      case 'added': {
        const { device } = event;
        // A client first seen in the audit (listed as external) turns out to be ours: it takes that row.
        if (!this.devices.has(device.id)) this.order.push(device.id);
        else this.forget(device.id);
        // The broker's record of a first, refused handshake can arrive before the fleet says the device exists.
        const earlier = this.log.slice(-50).filter((entry) => entry.id === device.id);
        const view: DeviceView = {
          ...device,
          state: 'idle',
          revoked: false,
          messages: 0,
          series: [],
          recent: earlier.slice(-RECENT_PER_DEVICE),
          traffic: [],
          addedAt: event.at,
        };
        this.devices.set(device.id, view);
        this.counts.total++;
        this.deviceLog(
          view,
          'info',
          `added ${device.id} (${device.rogue ? 'rogue ' : ''}${device.kind})`,
          event.at,
        );
        break;
      }
      case 'state': {
        const device = this.devices.get(event.id);
        if (!device) return;
        const words = event.reason && event.reason !== 'OK' ? `: ${REASONS[event.reason]}` : '';
        const text = `${event.id} ${event.previous} → ${event.state}${words}`;
        const rejected = event.state === 'rejected';
        this.update(device, {
          state: event.state,
          reason: event.reason ?? (rejected ? device.reason : undefined),
          detail: event.detail ?? (rejected ? device.detail : undefined),
          ...(event.certificate && { certificate: event.certificate }),
        });
        const level = event.state === 'backing-off' ? 'warn' : 'info';
        this.deviceLog(
          this.devices.get(event.id) as DeviceView,
          level,
          text,
          event.at,
          LOGGED_STATES.has(event.state),
        );
        break;
      }
      case 'ladder': {
        const device = this.devices.get(event.id);
        if (!device) return;
        if (event.attempt.localPort !== undefined) this.byPort.set(event.attempt.localPort, event.id);
        this.update(device, { attempt: event.attempt });
        break;
      }
      case 'telemetry': {
        const device = this.devices.get(event.id);
        if (!device) return;
        this.rate.add(event.at);
        const value = primaryValue(event.reading);
        const series = value === undefined ? device.series : [...device.series, value].slice(-SERIES_LENGTH);
        this.update(device, {
          lastReading: event.reading,
          lastReadingAt: event.at,
          messages: device.messages + 1,
          series,
          traffic: withTraffic(device.traffic, {
            at: event.at,
            direction: 'out',
            topic: `devices/${event.id}/telemetry`,
            text: JSON.stringify(event.reading),
          }),
        });
        break;
      }
      case 'command': {
        const device = this.devices.get(event.id);
        if (!device) return;
        this.update(device, {
          traffic: withTraffic(device.traffic, {
            at: event.at,
            direction: 'in',
            topic: `devices/${event.id}/commands/${event.command}`,
            text: event.result,
          }),
        });
        this.deviceLog(
          this.devices.get(event.id) as DeviceView,
          'info',
          `${event.id} command ${event.command} → ${event.result}`,
          event.at,
        );
        break;
      }
      case 'rejected': {
        const device = this.devices.get(event.id);
        if (!device) return;
        if (event.localPort !== undefined) this.byPort.set(event.localPort, event.id);
        this.update(device, {
          state: 'rejected',
          reason: event.reason,
          failedStep: event.step,
          detail: event.detail,
        });
        const where = `step ${stepNumber(event.step)} (${STEP_LABELS[event.step]})`;
        const source = event.explainedBy === 'broker-audit' ? ' (per the broker audit)' : '';
        const text = `${event.id} rejected at ${where}: ${event.reason} — ${REASONS[event.reason]}${source}`;
        this.deviceLog(this.devices.get(event.id) as DeviceView, 'warn', text, event.at);
        break;
      }
      case 'rotated': {
        const device = this.devices.get(event.id);
        if (!device) return;
        // The new certificate counts down from now on (its online event follows with the same window).
        this.update(device, {
          certificate: { notBefore: event.notBefore ?? event.at, notAfter: event.notAfter },
        });
        const text = `${event.id} rotated: serial ${event.previousSerial} → ${event.serial}, valid to ${new Date(event.notAfter).toISOString().slice(11, 19)} (request ${event.requestMs} ms, reconnect ${event.switchMs} ms)`;
        this.deviceLog(this.devices.get(event.id) as DeviceView, 'info', text, event.at);
        break;
      }
      case 'provisioned': {
        const device = this.devices.get(event.id);
        if (!device) return;
        this.update(device, {
          certificate: { notBefore: event.notBefore ?? event.at, notAfter: event.notAfter },
        });
        this.deviceLog(
          this.devices.get(event.id) as DeviceView,
          'info',
          `${event.id} provisioned by ${event.claim}: serial ${event.serial}`,
          event.at,
        );
        break;
      }
      case 'rotation-failed': {
        const device = this.devices.get(event.id);
        if (!device) return;
        this.deviceLog(
          device,
          'warn',
          `${event.id} rotation failed: ${event.reason} — ${event.detail}`,
          event.at,
        );
        break;
      }
      case 'error': {
        const device = this.devices.get(event.id);
        if (!device) return;
        this.deviceLog(device, 'error', `${event.id} error: ${event.message}`, event.at);
        break;
      }
      case 'removed': {
        const device = this.devices.get(event.id);
        if (!device) return;
        this.append('device', 'info', `removed ${event.id}`, event.id, event.at);
        this.forget(event.id);
        this.order.splice(this.order.indexOf(event.id), 1);
        this.devices.delete(event.id);
        break;
      }
    }
    this.changed();
  }

  /** Marks a device as revoked by the UI (the broker cuts it; its own events follow). */
  markRevoked(id: string): void {
    const device = this.devices.get(id);
    if (device) this.update(device, { revoked: true });
    this.changed();
  }

  private forget(id: string): void {
    const device = this.devices.get(id);
    if (!device) return;
    this.counts.total--;
    if (device.state === 'online') this.counts.online--;
    if (device.state === 'rejected') this.counts.rejected--;
  }

  /** Replaces a device's view with a changed copy and keeps the counts in step. */
  private update(device: DeviceView, patch: Partial<DeviceView>): void {
    const next = { ...device, ...patch };
    if (device.state !== next.state) {
      if (device.state === 'online') this.counts.online--;
      if (device.state === 'rejected') this.counts.rejected--;
      if (next.state === 'online') this.counts.online++;
      if (next.state === 'rejected') this.counts.rejected++;
    }
    this.devices.set(device.id, next);
  }

  private deviceLog(device: DeviceView, level: LogLevel, text: string, at: number, shared = true): void {
    const entry = shared
      ? this.append('device', level, text, device.id, at)
      : { seq: ++this.seq, at, source: 'device' as const, level, id: device.id, text };
    this.devices.set(device.id, { ...device, recent: withRecent(device.recent, entry) });
  }

  private append(source: LogSource, level: LogLevel, text: string, id?: string, at = this.now()): LogEntry {
    const entry: LogEntry = { seq: ++this.seq, at, source, level, id, text };
    this.log.push(entry);
    // Trimmed in batches so a busy second does not shift the whole array on every event.
    if (this.log.length > LOG_LIMIT * 1.25) this.log.splice(0, this.log.length - LOG_LIMIT);
    return entry;
  }

  /** A repaint just happened for another reason (a key): the next data-driven one waits a full frame. */
  repainted(): void {
    this.frames.repainted();
  }

  /** When listeners were last told (ms). */
  get lastNotify(): number {
    return this.frames.lastNotify;
  }

  private changed(): void {
    this.version++;
    this.frames.request();
    for (const watcher of this.watchers) watcher();
  }

  /**
   * Resolves true as soon as `predicate` holds (checked now and after every change), false after `timeoutMs`: how an
   * action waits for the fleet to confirm it before the dashboard says it happened.
   */
  waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        this.watchers.delete(check);
        clearTimeout(timer);
        resolve(result);
      };
      const check = () => {
        if (predicate()) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.watchers.add(check);
    });
  }

  /** Stops a pending notification (on quit). */
  dispose(): void {
    this.frames.dispose();
  }
}

function withTraffic(traffic: readonly TrafficEntry[], entry: TrafficEntry): TrafficEntry[] {
  const next = [...traffic, entry];
  return next.length > TRAFFIC_PER_DEVICE ? next.slice(-TRAFFIC_PER_DEVICE) : next;
}

function withRecent(recent: readonly LogEntry[], entry: LogEntry): LogEntry[] {
  const next = [...recent, entry];
  return next.length > RECENT_PER_DEVICE ? next.slice(-RECENT_PER_DEVICE) : next;
}
