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

export interface CommandOutcome {
  reply: CommandReply;
  /** set-interval: the new telemetry interval. */
  intervalMs?: number;
  /** reboot: drop the connection (after the reply went out) and come back. */
  reboot?: boolean;
}

/** What a device does with a command: the reply it sends, and the change it makes to itself. */
export function runCommand(id: string, request: CommandRequest, receivedAt: number): CommandOutcome {
  const reply = (ok: boolean, result: string, extra: Partial<CommandReply> = {}): CommandReply => ({
    id,
    command: request.name,
    ...(request.requestId !== undefined && { requestId: request.requestId }),
    ok,
    result,
    ...extra,
    ts: Date.now(),
  });
  switch (request.name) {
    case 'ping':
      return {
        reply: reply(true, 'pong', {
          ...(request.sentAt !== undefined && { latencyMs: Math.max(0, receivedAt - request.sentAt) }),
        }),
      };
    case 'set-interval': {
      if (request.intervalMs === undefined)
        return { reply: reply(false, 'set-interval needs {"intervalMs": <number>}') };
      const intervalMs = clampInterval(request.intervalMs);
      return { reply: reply(true, `interval ${intervalMs} ms`), intervalMs };
    }
    case 'reboot':
      return { reply: reply(true, 'rebooting'), reboot: true };
    default:
      return { reply: reply(false, `unknown command "${request.name}"`) };
  }
}
