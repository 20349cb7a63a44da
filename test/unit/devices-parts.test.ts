import { describe, expect, it } from 'vitest';
import { clampInterval, parseCommand, runCommand } from '../../devices/commands.ts';
import { parseDuration } from '../../core/duration.ts';
import { EventBatch } from '../../devices/event-batch.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { deviceId, parseProfiles } from '../../devices/plan.ts';
import { parseRogueKinds } from '../../core/rogues.ts';
import { formatSummary, summarize } from '../../devices/summary.ts';
import { telemetryPayload } from '../../devices/topics.ts';
import { parseBrokerUrl } from '../../bin/commands/devices.ts';
import { isUserError } from '../../core/user-error.ts';

const telemetry = (id: string, seq: number): DeviceEvent => ({
  type: 'telemetry',
  id,
  seq,
  reading: { t: seq },
  at: seq,
});

describe('event batching', () => {
  it('keeps every state change in order but only the latest telemetry per device, counting what it merged', () => {
    const batch = new EventBatch();
    for (let seq = 1; seq <= 100; seq++) batch.push(telemetry('a', seq));
    batch.push({ type: 'state', id: 'a', state: 'online', previous: 'mqtt-connect', at: 1 });
    batch.push({ type: 'state', id: 'a', state: 'stopped', previous: 'online', at: 2 });
    batch.push(telemetry('b', 7));
    const events = batch.drain();
    expect(
      events.filter((event) => event.type === 'state').map((event) => event.type === 'state' && event.state),
    ).toEqual(['online', 'stopped']);
    const latest = events.filter((event) => event.type === 'telemetry');
    expect(latest).toMatchObject([
      { id: 'a', seq: 100, coalesced: 100 },
      { id: 'b', seq: 7 },
    ]);
    expect(batch.drain()).toEqual([]);
  });
});

describe('commands', () => {
  it('parses JSON, bare numbers and empty payloads', () => {
    const prefix = 'devices/sensor-001/commands/';
    expect(parseCommand(`${prefix}ping`, prefix, Buffer.from('{"sentAt":5,"requestId":"r1"}'))).toEqual({
      name: 'ping',
      sentAt: 5,
      requestId: 'r1',
    });
    expect(parseCommand(`${prefix}set-interval`, prefix, Buffer.from('2500'))).toEqual({
      name: 'set-interval',
      intervalMs: 2500,
    });
    expect(parseCommand(`${prefix}reboot`, prefix, Buffer.alloc(0))).toEqual({ name: 'reboot' });
    expect(parseCommand(`${prefix}reboot`, prefix, Buffer.from('not json'))).toEqual({ name: 'reboot' });
    expect(clampInterval(1)).toBe(100);
  });

  it('runs ping, set-interval, reboot and refuses unknown commands', () => {
    expect(
      runCommand('sensor-001', { name: 'ping', sentAt: 1_000, requestId: 'r' }, 1_250).reply,
    ).toMatchObject({
      id: 'sensor-001',
      command: 'ping',
      requestId: 'r',
      ok: true,
      result: 'pong',
      latencyMs: 250,
    });
    expect(runCommand('s', { name: 'set-interval', intervalMs: 50 }, 0)).toMatchObject({
      intervalMs: 100,
      reply: { ok: true, result: 'interval 100 ms' },
    });
    expect(runCommand('s', { name: 'set-interval' }, 0)).toMatchObject({ reply: { ok: false } });
    expect(runCommand('s', { name: 'reboot' }, 0)).toMatchObject({
      reboot: true,
      reply: { result: 'rebooting' },
    });
    expect(runCommand('s', { name: 'dance' }, 0).reply).toMatchObject({
      ok: false,
      result: 'unknown command "dance"',
    });
  });

  it('telemetry payload carries id, seq and ts and cannot be spoofed by a reading', () => {
    expect(JSON.parse(telemetryPayload('sensor-001', 3, 99, { temperature: 21.5, id: 'x' }))).toEqual({
      temperature: 21.5,
      id: 'sensor-001',
      seq: 3,
      ts: 99,
    });
  });
});

describe('plan and CLI inputs', () => {
  it('names devices inside the policy patterns', () => {
    expect(deviceId('climate', 1)).toBe('sensor-001');
    expect(deviceId('tracker', 12)).toBe('tracker-012');
    expect(deviceId('meter', 1234)).toBe('meter-1234');
    expect(parseProfiles(['tracker,meter', 'door'])).toEqual(['tracker', 'meter', 'door']);
    expect(parseProfiles(undefined)).toEqual(['climate']);
  });

  it('refuses unknown profiles, rogue kinds, durations and broker URLs as user errors', () => {
    const userError = (action: () => unknown) => {
      try {
        action();
      } catch (error) {
        return isUserError(error) ? error.what : 'not a user error';
      }
      return 'no error';
    };
    expect(userError(() => parseProfiles(['toaster']))).toBe('unknown device profile');
    expect(userError(() => parseRogueKinds(['expired', 'teapot']))).toBe('unknown rogue kind');
    expect(userError(() => parseDuration('soon'))).toBe('invalid duration');
    expect(userError(() => parseBrokerUrl('mqtt://localhost:1883'))).toBe('invalid --broker');
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('5')).toBe(5_000);
    expect(parseBrokerUrl('mqtts://[::1]:8884')).toEqual({ host: '::1', port: 8884 });
    expect(parseBrokerUrl('mqtts://broker.example')).toEqual({ host: 'broker.example', port: 8883 });
  });
});

describe('summary', () => {
  it('groups rejections by reason and adds up messages', () => {
    const base = { rogue: false, attempts: 1, kind: 'climate' };
    const final = [
      { ...base, id: 'sensor-001', state: 'online' as const, messages: { sent: 3, acked: 3, received: 1 } },
      {
        ...base,
        id: 'rogue-expired',
        rogue: true,
        kind: 'expired',
        state: 'rejected' as const,
        reason: 'EXPIRED',
        step: 'client-verified',
        messages: { sent: 0, acked: 0, received: 0 },
      },
    ];
    const stopped = [
      { ...final[0], state: 'stopped' as const, messages: { sent: 4, acked: 4, received: 1 } },
    ];
    const summary = summarize('mqtts://x:1', final as never, stopped as never, []);
    expect(summary).toMatchObject({
      devices: 2,
      rogues: 1,
      online: 1,
      rejected: 1,
      rejectedByReason: { EXPIRED: ['rogue-expired'] },
      messages: { sent: 4, acked: 4, commandsReceived: 1 },
    });
    expect(summary.results[1]).toMatchObject({ failedStep: 'client-verified' });
    expect(formatSummary(summary)).toContain('EXPIRED at step 5 (client-verified)');
  });
});
