/**
 * Batches device events per tick so that the UI receives a few messages per second, not thousands: every state
 * change and rejection is kept in order; telemetry and ladder updates keep only the latest per device.
 */
import type { DeviceEvent } from './events.ts';

type TelemetryEvent = Extract<DeviceEvent, { type: 'telemetry' }>;
type LadderEvent = Extract<DeviceEvent, { type: 'ladder' }>;

export class EventBatch {
  private ordered: DeviceEvent[] = [];
  private telemetry = new Map<string, TelemetryEvent>();
  private ladders = new Map<string, LadderEvent>();

  push(event: DeviceEvent): void {
    if (event.type === 'telemetry') {
      const previous = this.telemetry.get(event.id);
      this.telemetry.set(
        event.id,
        previous ? { ...event, coalesced: (previous.coalesced ?? 1) + (event.coalesced ?? 1) } : event,
      );
    } else if (event.type === 'ladder') {
      this.ladders.set(event.id, event);
    } else {
      this.ordered.push(event);
    }
  }

  get size(): number {
    return this.ordered.length + this.telemetry.size + this.ladders.size;
  }

  /** Everything batched so far, and a fresh start. */
  drain(): DeviceEvent[] {
    const events = [...this.ladders.values(), ...this.ordered, ...this.telemetry.values()];
    this.ordered = [];
    this.telemetry = new Map();
    this.ladders = new Map();
    return events;
  }
}
