/** Device state → the symbol and colour the list and detail pane show. Pure and tiny on purpose. */
import type { DeviceState, StepStatus } from '../devices/events.ts';

export interface StatusStyle {
  symbol: string;
  color: string;
  label: string;
}

const STATE_STYLES: Record<DeviceState, StatusStyle> = {
  idle: { symbol: '·', color: 'gray', label: 'idle' },
  connecting: { symbol: '…', color: 'yellow', label: 'connecting' },
  'tls-handshake': { symbol: '…', color: 'yellow', label: 'handshake' },
  'mqtt-connect': { symbol: '…', color: 'yellow', label: 'mqtt connect' },
  online: { symbol: '●', color: 'green', label: 'online' },
  'backing-off': { symbol: '↻', color: 'yellow', label: 'retrying' },
  paused: { symbol: '‖', color: 'blue', label: 'paused' },
  rejected: { symbol: '✗', color: 'red', label: 'rejected' },
  stopped: { symbol: '■', color: 'gray', label: 'stopped' },
};

export function stateStyle(state: DeviceState, revoked = false): StatusStyle {
  const style = STATE_STYLES[state];
  // A revoked device that is still connecting or retrying is on its way out: say so.
  if (revoked && state !== 'rejected') return { ...style, label: `${style.label} (revoked)` };
  return style;
}

const STEP_STYLES: Record<StepStatus, { symbol: string; color: string }> = {
  ok: { symbol: '✓', color: 'green' },
  failed: { symbol: '✗', color: 'red' },
  pending: { symbol: '…', color: 'yellow' },
  skipped: { symbol: '-', color: 'gray' },
};

export function stepStyle(status: StepStatus): { symbol: string; color: string } {
  return STEP_STYLES[status];
}
