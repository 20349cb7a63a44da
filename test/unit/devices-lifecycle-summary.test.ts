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

describe('devices still retrying in the summary', () => {
  const retrying = (id: string, reason: string | undefined, detail: string): DeviceResult => ({
    id,
    kind: 'climate',
    rogue: false,
    state: 'backing-off',
    ...(reason !== undefined && { reason }),
    detail,
    attempts: 3,
    messages: { sent: 0, acked: 0, received: 0 },
    rotations: 0,
  });

  it('groups them by why, most first, in the text line and in the JSON groups', () => {
    const busy = (id: string) =>
      retrying(id, 'BROKER_BUSY', 'broker busy or at a connection limit: it closed the connection');
    const results = [
      busy('a'),
      retrying('b', 'BROKER_UNREACHABLE', 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1'),
      busy('c'),
      retrying('d', 'TIMEOUT', 'broker busy or unreachable: no answer within 400 ms'),
      busy('e'),
      retrying('f', undefined, 'rebooting'),
      retrying('g', 'BROKER_UNREACHABLE', 'ENOTFOUND: getaddrinfo ENOTFOUND broker.invalid'),
    ];
    const summary = summarize('b', results, [], []);
    expect(summary.backingOff).toEqual([
      { reason: 'BROKER_BUSY', cause: 'broker busy', count: 3, ids: ['a', 'c', 'e'] },
      { reason: 'BROKER_UNREACHABLE', cause: 'connection refused', count: 1, ids: ['b'] },
      { reason: 'BROKER_UNREACHABLE', cause: 'host name not found', count: 1, ids: ['g'] },
      { reason: 'TIMEOUT', cause: 'no answer in time', count: 1, ids: ['d'] },
      { cause: 'rebooting', count: 1, ids: ['f'] },
    ]);
    expect(formatSummary(summary)).toContain(
      '  backing-off: 7 (broker busy: 3, connection refused: 1, host name not found: 1, no answer in time: 1, rebooting: 1)\n',
    );
  });

  it('says nothing more when no device is retrying', () => {
    const summary = summarize('b', [], [], []);
    expect(summary.backingOff).toEqual([]);
    expect(formatSummary(summary)).not.toContain('backing-off');
  });
});
