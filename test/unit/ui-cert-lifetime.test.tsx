/**
 * The dashboard shows each certificate's remaining lifetime and colours it as expiry nears: the pure formatter and
 * colour rule, the device list at a fixed clock (before and after a rotation), and the 80×24 screen.
 */
import chalk from 'chalk';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../devices/events.ts';
import { App } from '../../ui/App.tsx';
import { DeviceList, columnsFor, deviceRowText } from '../../ui/components/DeviceList.tsx';
import { lifetimeStyle, remainingText } from '../../ui/lifetime-style.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import type { DeviceView } from '../../ui/store/types.ts';
import { added, fakeControls, plain, renderAt, waitForContent } from '../helpers/ui-render.ts';

const T0 = Date.parse('2026-11-30T04:00:00Z');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function onlineWith(id: string, notBefore: number, notAfter: number, at = T0): DeviceEvent {
  return {
    type: 'state',
    id,
    state: 'online',
    previous: 'mqtt-connect',
    at,
    certificate: { notBefore, notAfter },
  };
}

describe('remainingText and lifetimeStyle', () => {
  it('says the remaining lifetime in the largest whole unit, and "expired" at or after notAfter', () => {
    expect(remainingText(45_000)).toBe('45s');
    expect(remainingText(59_999)).toBe('59s');
    expect(remainingText(60_000)).toBe('1m');
    expect(remainingText(12 * 60_000 + 30_000)).toBe('12m');
    expect(remainingText(3 * 3_600_000 + 59 * 60_000)).toBe('3h');
    expect(remainingText(29 * 86_400_000 + 3_600_000)).toBe('29d');
    expect(remainingText(0)).toBe('expired');
    expect(remainingText(-5_000)).toBe('expired');
  });

  it('is normal with plenty left, yellow under 20 % of the lifetime or under a minute, red when expired', () => {
    const day = { notBefore: T0, notAfter: T0 + 86_400_000 };
    expect(lifetimeStyle(day, T0 + 1_000)).toEqual({ text: '23h' });
    // 20 % of a day is 4.8 h: 5 h left is normal, 4 h left warns.
    expect(lifetimeStyle(day, day.notAfter - 5 * 3_600_000).color).toBeUndefined();
    expect(lifetimeStyle(day, day.notAfter - 4 * 3_600_000)).toEqual({ text: '4h', color: 'yellow' });
    // A 20 s certificate: 10 s left is half its life, yet under a minute, so it warns.
    const short = { notBefore: T0, notAfter: T0 + 20_000 };
    expect(lifetimeStyle(short, T0 + 10_000)).toEqual({ text: '10s', color: 'yellow' });
    // A year-long certificate with 2 minutes left: over a minute but under 20 %: warns.
    const year = { notBefore: T0 - 365 * 86_400_000, notAfter: T0 + 120_000 };
    expect(lifetimeStyle(year, T0)).toEqual({ text: '2m', color: 'yellow' });
    expect(lifetimeStyle(short, short.notAfter)).toEqual({ text: 'expired', color: 'red' });
  });
});

describe('the device list counts the certificate down', () => {
  it('shows the remaining lifetime at a fixed clock and the new one after a rotated event', () => {
    const store = new FleetStore({ frameMs: 0, now: () => T0 });
    cleanups.push(() => store.dispose());
    store.applyDeviceEvent(added('sensor-001', 'climate', false, T0));
    store.applyDeviceEvent(onlineWith('sensor-001', T0 - 2_000, T0 + 45_000));
    const rows = () => [store.devices.get('sensor-001') as DeviceView];
    const list = (now: number) => (
      <DeviceList
        rows={rows()}
        selected={-1}
        first={0}
        total={1}
        height={8}
        width={80}
        focused
        filter=""
        now={now}
      />
    );
    const app = render(list(T0));
    cleanups.push(() => app.unmount());
    expect(plain(app.lastFrame())).toContain('online cert 45s');

    // 35 s later: 10 s left.
    app.rerender(list(T0 + 35_000));
    expect(plain(app.lastFrame())).toContain('online cert 10s');

    store.applyDeviceEvent({
      type: 'rotated',
      id: 'sensor-001',
      previousSerial: 'AA01',
      serial: 'BB02',
      notBefore: T0 + 34_000,
      notAfter: T0 + 34_000 + 20 * 60_000,
      requestMs: 12,
      switchMs: 40,
      at: T0 + 35_000,
    });
    app.rerender(list(T0 + 35_000));
    const frame = plain(app.lastFrame());
    expect(frame).toContain('online cert 19m');
    expect(frame).not.toContain('10s');

    app.rerender(list(T0 + 34_000 + 20 * 60_000));
    expect(plain(app.lastFrame())).toContain('online expired'); // 'cert expired' would not fit the 18-wide column;
  });

  it('keeps the text without colours (NO_COLOR) and colours it when they are on', () => {
    const device: DeviceView = {
      id: 'sensor-001',
      kind: 'climate',
      rogue: false,
      state: 'online',
      revoked: false,
      messages: 0,
      series: [],
      recent: [],
      traffic: [],
      addedAt: T0,
      certificate: { notBefore: T0, notAfter: T0 + 20_000 },
    };
    const level = chalk.level;
    try {
      chalk.level = 0;
      const text = deviceRowText(device, false, columnsFor(78), T0 + 5_000);
      expect(text).toContain('online cert 15s');
      expect(text).not.toContain('\u001b[');
      chalk.level = 1;
      // 15 s left of 20 s: under a minute, so yellow (ANSI 33) around the lifetime.
      expect(deviceRowText(device, false, columnsFor(78), T0 + 5_000)).toContain('\u001b[33m15s\u001b[39m');
    } finally {
      chalk.level = level;
    }
  });

  it('fits on an 80×24 screen: the list row and the selection summary both show it', async () => {
    const store = new FleetStore({ frameMs: 0 });
    const now = Date.now();
    store.applyDeviceEvent(added('sensor-001', 'climate', false, now));
    // Half a day past 29 days: stays "29d" however long the test takes.
    store.applyDeviceEvent(onlineWith('sensor-001', now, now + 29.5 * 86_400_000, now));
    const app = renderAt(<App store={store} controls={fakeControls()} />, 80, 24);
    cleanups.push(() => {
      app.unmount();
      store.dispose();
    });
    const frame = await waitForContent(app.lastFrame, 'cert 29d left');
    expect(frame).toMatch(/sensor-001\s+climate\s+online cert 29d/);
  });
});
