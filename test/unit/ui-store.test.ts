import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { REASONS } from '../../core/reasons.ts';
import { handleKey, initialUiState, splitKeystrokes } from '../../ui/keys.ts';
import { parseAuditRecord } from '../../core/audit.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import { FrameScheduler } from '../../ui/store/frame-scheduler.ts';
import { compactReading } from '../../ui/format.ts';
import { sparkline } from '../../ui/store/sparkline.ts';
import { scrollTop } from '../../ui/store/window.ts';
import { added, online } from '../helpers/ui-render.ts';
import type { Key } from 'ink';

const noKey = {} as Key;

describe('FleetStore', () => {
  it('counts online and rejected devices as states change, and forgets removed ones', () => {
    const store = new FleetStore({ frameMs: 0 });
    store.applyDeviceEvent(added('sensor-1'));
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    store.applyDeviceEvent(online('sensor-1'));
    store.applyDeviceEvent({
      type: 'rejected',
      id: 'rogue-expired',
      reason: 'EXPIRED',
      step: 'client-verified',
      detail: 'CERT_HAS_EXPIRED',
      at: 1,
    });
    expect(store.counts).toEqual({ total: 2, online: 1, rejected: 1 });
    expect(store.devices.get('rogue-expired')).toMatchObject({
      state: 'rejected',
      reason: 'EXPIRED',
      failedStep: 'client-verified',
    });
    expect(store.log.at(-1)?.text).toContain(
      `step 5 (server verifies the client): EXPIRED — ${REASONS.EXPIRED}`,
    );
    store.applyDeviceEvent({
      type: 'state',
      id: 'sensor-1',
      state: 'backing-off',
      previous: 'online',
      reason: 'REVOKED',
      at: 2,
    });
    store.applyDeviceEvent({ type: 'removed', id: 'rogue-expired', at: 3 });
    expect(store.counts).toEqual({ total: 1, online: 0, rejected: 0 });
    expect(store.order).toEqual(['sensor-1']);
  });

  it('keeps readings, message counts, the sparkline series and the rate', () => {
    let now = 10_000;
    const store = new FleetStore({ frameMs: 0, now: () => now });
    store.applyDeviceEvent(added('sensor-1'));
    for (let i = 0; i < 30; i++) {
      store.applyDeviceEvent({
        type: 'telemetry',
        id: 'sensor-1',
        seq: i,
        reading: { temperature: 20 + i },
        at: now,
      });
      now += 200; // 5 per second
    }
    const device = store.devices.get('sensor-1');
    expect(device?.messages).toBe(30);
    expect(device?.series.length).toBe(24);
    expect(device?.lastReading).toEqual({ temperature: 49 });
    expect(store.messagesPerSecond()).toBe(5);
  });

  it('caps notifications to one per frame however many events arrive', async () => {
    const store = new FleetStore({ frameMs: 50 });
    let notified = 0;
    store.subscribe(() => notified++);
    for (let i = 0; i < 500; i++) store.applyDeviceEvent(added(`sensor-${i}`));
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(notified).toBe(1);
    store.dispose();
  });

  it('after a key repaint, holds the next data repaint back by a whole frame', () => {
    vi.useFakeTimers();
    try {
      const frames = new FrameScheduler(
        () => 100,
        () => Date.now(),
      );
      let notified = 0;
      frames.subscribe(() => notified++);
      frames.request();
      vi.advanceTimersByTime(0);
      expect(notified).toBe(1); // the first change after a quiet frame goes out at once
      vi.advanceTimersByTime(500);
      frames.repainted();
      frames.request();
      vi.advanceTimersByTime(99);
      expect(notified).toBe(1);
      vi.advanceTimersByTime(1);
      expect(notified).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('attributes a broker audit record to the device by CN and adds it to the shared log', () => {
    const store = new FleetStore({ frameMs: 0 });
    store.applyDeviceEvent(added('rogue-unknown-cn', 'unknown-cn', true));
    const record: AuditRecord = {
      ts: new Date().toISOString(),
      event: 'connect-refused',
      reason: 'UNKNOWN_IDENTITY',
      cn: 'rogue-unknown-cn',
      peer: { address: '127.0.0.1', port: 50_000 },
    };
    store.applyAudit(parseAuditRecord(JSON.stringify(record)));
    const entry = store.log.at(-1);
    expect(entry).toMatchObject({ source: 'broker', level: 'warn', id: 'rogue-unknown-cn' });
    expect(entry?.text).toContain(`UNKNOWN_IDENTITY: ${REASONS.UNKNOWN_IDENTITY}`);
    expect(store.devices.get('rogue-unknown-cn')?.recent.at(-1)?.source).toBe('broker');
  });

  it('ignores audit payloads that are not JSON objects', () => {
    for (const payload of ['not json', '[1,2]', '{"event":"x"}', '{"ts":"t","event":"x","reason":"NOPE"}']) {
      expect(parseAuditRecord(payload)).toBeNull();
    }
    const store = new FleetStore({ frameMs: 0 });
    store.applyAudit(parseAuditRecord('not json'));
    expect(store.log.filter((entry) => entry.source === 'broker')).toEqual([]);
  });
});

describe('list helpers', () => {
  it('scrolls the window as little as possible to keep the selection visible', () => {
    expect(scrollTop(0, 5, 10, 1000)).toBe(0);
    expect(scrollTop(0, 10, 10, 1000)).toBe(1);
    expect(scrollTop(50, 49, 10, 1000)).toBe(49);
    expect(scrollTop(0, 999, 10, 1000)).toBe(990);
    expect(scrollTop(7, 3, 10, 5)).toBe(0);
  });

  it('fits a reading into a short column with units', () => {
    expect(compactReading({ temperature: 21.37, humidity: 40, battery: 90 })).toBe('21.4°C 40%RH');
    expect(compactReading({ lat: 51.9123, lon: 9.1, speed: 12.5, heading: 90 })).toBe(
      '51.912,9.100 12.5 km/h',
    );
    expect(compactReading({ door: 'open', openings: 3 })).toBe('door open openings 3');
  });

  it('draws a sparkline from low to high', () => {
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([5, 5], 8)).toBe('▄▄');
  });
});

describe('keys', () => {
  const ids = Array.from({ length: 100 }, (_, i) => `sensor-${i}`);
  const context = { visibleIds: ids, listHeight: 10, logLength: 0, logHeight: 5 };

  it('moves by row, page and to the ends', () => {
    let state = handleKey(initialUiState, 'j', noKey, context).state;
    expect(state.selectedId).toBe('sensor-1');
    state = handleKey(state, '', { ...noKey, pageDown: true }, context).state;
    expect(state.selectedId).toBe('sensor-10');
    state = handleKey(state, '', { ...noKey, end: true }, context).state;
    expect(state.selectedId).toBe('sensor-99');
    state = handleKey(state, '', { ...noKey, home: true }, context).state;
    expect(state.selectedId).toBe('sensor-0');
  });

  it('turns x, p, d and q into actions on the selected device (x and d after a yes)', () => {
    const revoke = handleKey(initialUiState, 'x', noKey, context);
    expect(revoke.action).toBeUndefined();
    expect(revoke.state.mode).toMatchObject({
      kind: 'confirm',
      question: expect.stringContaining('Revoke sensor-0'),
    });
    expect(handleKey(revoke.state, 'y', noKey, context).action).toEqual({ type: 'revoke', id: 'sensor-0' });
    const cancelled = handleKey(revoke.state, 'n', noKey, context);
    expect(cancelled.action).toEqual({ type: 'notice', text: 'cancelled' });
    expect(cancelled.state.mode.kind).toBe('normal');
    expect(handleKey(initialUiState, 'p', noKey, context).action).toEqual({
      type: 'toggle-pause',
      id: 'sensor-0',
    });
    const remove = handleKey(initialUiState, 'd', noKey, context).state;
    expect(handleKey(remove, '', { ...noKey, return: true }, context).action).toEqual({
      type: 'remove',
      id: 'sensor-0',
    });
    expect(handleKey(initialUiState, 'q', noKey, context).action).toEqual({ type: 'quit' });
    expect(handleKey(initialUiState, 'c', { ...noKey, ctrl: true }, context).action).toEqual({
      type: 'quit',
    });
  });

  it('says so when an action needs a device and none is selected', () => {
    const empty = { ...context, visibleIds: [] };
    expect(handleKey(initialUiState, 'x', noKey, empty).action).toEqual({
      type: 'notice',
      text: 'no device selected',
    });
  });

  it('sends a typed command to the selected device', () => {
    let state = handleKey(initialUiState, 'c', noKey, context).state;
    for (const ch of 'ping') state = handleKey(state, ch, noKey, context).state;
    const result = handleKey(state, '', { ...noKey, return: true }, context);
    expect(result.action).toEqual({ type: 'command', id: 'sensor-0', command: 'ping' });
    expect(result.state.mode.kind).toBe('normal');
  });

  it('splits a burst of characters into keystrokes, Enter and Backspace included', () => {
    const keys = splitKeystrokes('ab\u007fc\r', noKey);
    expect(keys.map(([input, key]) => [input, key.return === true, key.backspace === true])).toEqual([
      ['a', false, false],
      ['b', false, false],
      ['', false, true],
      ['c', false, false],
      ['', true, false],
    ]);
    expect(splitKeystrokes('\u001b[A', { ...noKey, upArrow: true })).toHaveLength(1);
  });
});
