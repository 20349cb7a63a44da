/**
 * A certificate's remaining lifetime as the list and summary show it: compact text (`45s`, `12m`, `3h`, `29d`,
 * `expired`) and a colour that warns as expiry nears. Pure and tiny on purpose; the text carries the meaning, so
 * NO_COLOR loses nothing.
 */

/** The validity window of the certificate a device uses, epoch ms. */
export interface CertificateWindow {
  notBefore: number;
  notAfter: number;
}

export interface LifetimeStyle {
  text: string;
  /** undefined: normal (no colour). */
  color?: 'yellow' | 'red';
}

/** Under this share of the whole lifetime left, or under a minute, the lifetime turns yellow. */
export const WARN_FRACTION = 0.2;
const WARN_MS = 60_000;

export function remainingText(ms: number): string {
  if (ms <= 0) return 'expired';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${Math.max(1, seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function lifetimeStyle(certificate: CertificateWindow, now: number): LifetimeStyle {
  const left = certificate.notAfter - now;
  const text = remainingText(left);
  if (left <= 0) return { text, color: 'red' };
  const lifetime = certificate.notAfter - certificate.notBefore;
  if (left < WARN_MS || left < WARN_FRACTION * lifetime) return { text, color: 'yellow' };
  return { text };
}
