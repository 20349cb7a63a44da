/** A cut at expiry is placed on step 7 by the broker's audit too, and the headless summary counts rotations. */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../core/audit.ts';
import type { DeviceResult } from '../../devices/device.ts';
import { explanationOf } from '../../devices/explain.ts';
import { formatSummary, summarize } from '../../devices/summary.ts';

const record = (event: AuditRecord['event'], reason: AuditRecord['reason']): AuditRecord => ({
  ts: '2026-11-30T04:00:00.000Z',
  event,
  reason,
  peer: { address: '127.0.0.1', port: 5000 },
});

describe('certificate lifecycle in the device reports', () => {
  it('EXPIRED during a session is step 7 (messages-flow); at a handshake it stays step 5', () => {
    expect(explanationOf(record('expired-session-closed', 'EXPIRED')).step).toBe('messages-flow');
    expect(explanationOf(record('disconnected', 'EXPIRED')).step).toBe('messages-flow');
    expect(explanationOf(record('handshake-refused', 'EXPIRED')).step).toBe('client-verified');
  });

  it('the summary says how many certificates were renewed over MQTT, and nothing when none were', () => {
    const result = (id: string, rotations: number): DeviceResult => ({
      id,
      kind: 'climate',
      rogue: false,
      state: 'online',
      attempts: 1,
      messages: { sent: 1, acked: 1, received: 0 },
      rotations,
    });
    const rotated = summarize('b', [result('a', 3), result('b', 2)], [], []);
    expect(rotated.rotations).toBe(5);
    expect(formatSummary(rotated)).toContain('rotated:  5 certificate(s) renewed over MQTT');
    expect(formatSummary(summarize('b', [result('a', 0)], [], []))).not.toContain('rotated');
  });
});
