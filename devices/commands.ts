/**
 * Commands a device accepts on devices/{id}/commands/<name>: set-interval, ping, reboot. The payload is JSON (or
 * empty); the reply goes to devices/{id}/replies as JSON.
 */
export const DEVICE_COMMANDS = ['set-interval', 'ping', 'reboot'] as const;
export type DeviceCommandName = (typeof DEVICE_COMMANDS)[number];

export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 3_600_000;

export interface CommandRequest {
  name: string;
  requestId?: string;
  /** ping: the sender's clock (epoch ms) when it sent the command. */
  sentAt?: number;
  /** set-interval: the new telemetry interval. */
  intervalMs?: number;
}

export interface CommandReply {
  id: string;
  command: string;
  requestId?: string;
  ok: boolean;
  result: string;
  /** ping: ms between the sender's sentAt and our receipt. */
  latencyMs?: number;
  ts: number;
}

/** Parses a command message; tolerant of an empty or non-JSON payload (a bare number means intervalMs). */
export function parseCommand(topic: string, prefix: string, payload: Buffer): CommandRequest {
  const name = topic.startsWith(prefix) ? topic.slice(prefix.length) : topic;
  const text = payload.toString('utf8').trim();
  if (text === '') return { name };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'number') return { name, intervalMs: parsed };
    if (parsed && typeof parsed === 'object') {
      const body = parsed as Record<string, unknown>;
      return {
        name,
        ...(typeof body.requestId === 'string' && { requestId: body.requestId }),
        ...(typeof body.sentAt === 'number' && { sentAt: body.sentAt }),
        ...(typeof body.intervalMs === 'number' && { intervalMs: body.intervalMs }),
      };
    }
  } catch {
    // Not JSON: treat as a bare command.
  }
  return { name };
}

export function clampInterval(intervalMs: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.round(intervalMs)));
}
