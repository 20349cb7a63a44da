/**
 * What the `c` prompt's text means as an MQTT message to a device: `ping`, `reboot`, `set-interval 2s`. The topic is
 * devices/{id}/commands/<name>; set-interval takes a duration like everywhere else in certfleet (2s, 500ms, 1m; a bare
 * number is seconds, as for --interval) and sends it to the device as {"intervalMs": N}. Pure.
 */
import { DEVICE_COMMANDS, MAX_INTERVAL_MS, MIN_INTERVAL_MS } from '../devices/commands.ts';
import { parseDuration } from '../core/duration.ts';
import { isUserError } from '../core/user-error.ts';

export interface DeviceCommand {
  name: string;
  topic: string;
  payload: string;
}

export function parseDeviceCommand(id: string, text: string, now = Date.now()): DeviceCommand {
  const [name = '', ...rest] = text.trim().split(/\s+/);
  if (!(DEVICE_COMMANDS as readonly string[]).includes(name)) {
    throw new Error(
      `"${name}" is not a device command: use ${DEVICE_COMMANDS.join(', ')} (e.g. set-interval 2s)`,
    );
  }
  const topic = `devices/${id}/commands/${name}`;
  if (name === 'set-interval') {
    const argument = rest.join(' ');
    if (argument === '') throw new Error('set-interval needs an interval, e.g. set-interval 2s or 500ms');
    let intervalMs: number;
    try {
      intervalMs = parseDuration(argument, 'interval');
    } catch (error) {
      if (!isUserError(error)) throw error;
      throw new Error(
        `"${argument}" is not an interval: use e.g. 2s, 500ms or 1m (a bare number is seconds)`,
      );
    }
    if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
      throw new Error(`the interval must be from ${MIN_INTERVAL_MS}ms to 1h (got ${argument})`);
    }
    return { name, topic, payload: JSON.stringify({ intervalMs }) };
  }
  if (rest.length > 0) throw new Error(`${name} takes no argument`);
  return { name, topic, payload: name === 'ping' ? JSON.stringify({ sentAt: now }) : '' };
}
