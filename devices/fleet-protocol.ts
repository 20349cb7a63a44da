/** Messages between the fleet (parent thread) and its workers. Plain data: structured clone carries them. */
import type { DeviceResult } from './device.ts';
import type { DeviceEvent } from './events.ts';
import type { DeviceSpec } from './spec.ts';

export interface WorkerSettings {
  /** This worker's share of the fleet's connection-rate cap (connections per second; 0 = no cap). */
  connectRatePerSecond: number;
  /** How often events are flushed to the parent, ms. */
  flushMs: number;
}

export type ToWorker =
  | { type: 'add'; specs: DeviceSpec[] }
  | { type: 'remove'; ids: string[] }
  | { type: 'pause'; ids: string[] }
  | { type: 'resume'; ids: string[] }
  | { type: 'command'; id: string; name: string; payload?: string }
  | { type: 'results'; requestId: number }
  | { type: 'stop'; requestId: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'events'; events: DeviceEvent[] }
  | { type: 'results'; requestId: number; results: DeviceResult[] }
  | { type: 'stopped'; requestId: number; results: DeviceResult[] }
  | { type: 'fatal'; message: string };
