/**
 * The dashboard's view model: plain data the components read. The store (fleet-store.ts) keeps it up to date from
 * the fleet's DeviceEvents and the broker's audit records; components never see raw events.
 */
import type { Reason } from '../../core/reasons.ts';
import type { DeviceState, HandshakeAttempt, LadderStepName } from '../../devices/events.ts';

export type LogSource = 'device' | 'broker' | 'ui';
export type LogLevel = 'info' | 'warn' | 'error';

export interface LogEntry {
  /** Monotonic: gives React a stable key and keeps merge order. */
  seq: number;
  at: number;
  source: LogSource;
  level: LogLevel;
  /** The device (or CN) the entry is about, if any. */
  id?: string;
  text: string;
}

export type Reading = Record<string, number | string | boolean>;

/** One MQTT message of a device, as the dashboard knows it (the per-device message view). */
export interface TrafficEntry {
  at: number;
  /** 'out': the device published it; 'in': it was sent to the device. */
  direction: 'in' | 'out';
  topic: string;
  text: string;
}

export interface DeviceView {
  id: string;
  /** Sensor profile ('climate', …) or rogue kind ('expired', …). */
  kind: string;
  rogue: boolean;
  /** A client the dashboard did not start (mosquitto_pub, another `devices run`), known from the broker audit. */
  external?: boolean;
  state: DeviceState;
  /** The reason of the last rejection or disconnect, if any. */
  reason?: Reason;
  /** The ladder step at which the device was rejected. */
  failedStep?: LadderStepName;
  detail?: string;
  /** Set once the UI revoked this device's certificate. */
  revoked: boolean;
  /** The broker cluster node that accepted its last session (from the audit record's `node`; absent: one broker). */
  node?: string;
  /** Validity of the certificate the device last came online with (or rotated to), epoch ms. */
  certificate?: { notBefore: number; notAfter: number };
  lastReading?: Reading;
  lastReadingAt?: number;
  messages: number;
  /** Recent values of the reading's first numeric field, for the sparkline. */
  series: number[];
  /** The latest handshake attempt the device reported (the ladder). */
  attempt?: HandshakeAttempt;
  /** The device's own recent events, newest last. */
  recent: LogEntry[];
  /** Its recent messages, both ways, newest last. */
  traffic: TrafficEntry[];
  addedAt: number;
}

export interface BrokerInfo {
  host: string;
  port: number;
  tlsVersions?: string;
  caFingerprint?: string;
  startedAt: number;
  /** Set when the broker process died: why. */
  down?: string;
}

/** A short message that confirms an action (or says why it failed); shown until it expires. */
export interface Feedback {
  text: string;
  level: LogLevel;
  until: number;
}

export interface Counts {
  total: number;
  online: number;
  rejected: number;
}
