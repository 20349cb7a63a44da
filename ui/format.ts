/** Small text formatters shared by the components. */
import type { Reading } from './store/types.ts';

const pad2 = (n: number): string => String(n).padStart(2, '0');

export function clock(at: number): string {
  const date = new Date(at);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

export function duration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}`;
}

function value(v: number | string | boolean): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  return String(v);
}

/** Known reading fields with their units: how a row fits a reading into a narrow column. */
const UNITS: Record<string, (v: string) => string> = {
  temperature: (v) => `${v}°C`,
  humidity: (v) => `${v}%RH`,
  power: (v) => `${v} W`,
  energy: (v) => `${v} kWh`,
  speed: (v) => `${v} km/h`,
  door: (v) => `door ${v}`,
};

/** `21.4°C 40.2%RH`, `51.9,9.1 12 km/h`: the first fields of a reading, short. */
export function compactReading(reading: Reading | undefined, fields = 2): string {
  if (!reading) return '';
  const parts: string[] = [];
  if (typeof reading.lat === 'number' && typeof reading.lon === 'number') {
    parts.push(`${reading.lat.toFixed(3)},${reading.lon.toFixed(3)}`);
  }
  for (const [name, v] of Object.entries(reading)) {
    if (parts.length >= fields) break;
    if (name === 'lat' || name === 'lon') continue;
    const unit = UNITS[name];
    parts.push(unit ? unit(value(v)) : `${name} ${value(v)}`);
  }
  return parts.join(' ');
}

/** `temperature 21.4 humidity 40.2`, at most `fields` fields. */
export function formatReading(reading: Reading | undefined, fields = 2): string {
  if (!reading) return '';
  return Object.entries(reading)
    .slice(0, fields)
    .map(([name, v]) => `${name} ${value(v)}`)
    .join(' ');
}

/** Fits text into exactly `width` columns (cut with … or padded), so columns line up. */
export function fitText(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return text.padEnd(width);
}

/** The first and last bytes of a long colon-separated fingerprint: enough to compare by eye. */
export function shortFingerprint(fingerprint: string | undefined): string {
  if (!fingerprint) return '?';
  const bytes = fingerprint.split(':');
  if (bytes.length <= 8) return fingerprint;
  return `${bytes.slice(0, 4).join(':')}…${bytes.slice(-4).join(':')}`;
}
