/** The dashboard's keys beyond moving around: prompts with line editing, bulk add, sort, jumps, search, detail. */
import type { Key } from 'ink';
import { describe, expect, it } from 'vitest';
import { mosquittoCommands, shellQuote } from '../../ui/connect-commands.ts';
import { parseDeviceCommand } from '../../ui/device-command.ts';
import { fitHints } from '../../ui/components/Footer.tsx';
import { searchOffsets } from '../../ui/components/EventLog.tsx';
import { editLine, isPrintable } from '../../ui/input/line-editor.ts';
import { handleKey, initialUiState, type KeyContext, splitKeystrokes, type UiState } from '../../ui/keys.ts';
import { layoutFor } from '../../ui/layout.ts';
import { sortIds } from '../../ui/store/sort.ts';
import type { DeviceView, LogEntry } from '../../ui/store/types.ts';

const noKey = {} as Key;
const ctrl = { ctrl: true } as Key;
const enter = { return: true } as Key;
const ids = ['sensor-0', 'sensor-1', 'rogue-expired', 'sensor-3', 'rogue-sha1'];
const context: KeyContext = {
  visibleIds: ids,
  listHeight: 10,
  logLength: 0,
  logHeight: 5,
  isRejected: (id) => id.startsWith('rogue-'),
};

/** Feeds a terminal burst through splitKeystrokes and handleKey, as the App does. */
function type(state: UiState, burst: string, ctx = context): ReturnType<typeof handleKey> {
  let result: ReturnType<typeof handleKey> = { state };
  for (const [input, key] of splitKeystrokes(burst, noKey)) {
    const next = handleKey(result.state, input, key, ctx);
    result = { state: next.state, action: next.action ?? result.action };
  }
  return result;
}

describe('line editing in prompts', () => {
  const line = { text: 'set-interval 2s', cursor: 15 };
  it.each([
    ['Ctrl-A', 'a', ctrl, { text: 'set-interval 2s', cursor: 0 }],
    ['Ctrl-E', 'e', ctrl, { text: 'set-interval 2s', cursor: 15 }],
    ['Ctrl-U', 'u', ctrl, { text: '', cursor: 0 }],
    ['Ctrl-W', 'w', ctrl, { text: 'set-interval ', cursor: 13 }],
    ['Backspace', '', { backspace: true } as Key, { text: 'set-interval 2', cursor: 14 }],
    ['←', '', { leftArrow: true } as Key, { text: 'set-interval 2s', cursor: 14 }],
  ])('%s', (_name, input, key, expected) => {
    expect(editLine(line, input, key)).toEqual(expected);
  });

  it('inserts at the cursor and deletes to the end with Ctrl-K', () => {
    const moved = editLine({ text: 'pig', cursor: 2 }, 'n', noKey);
    expect(moved).toEqual({ text: 'ping', cursor: 3 });
    expect(editLine({ text: 'reboot now', cursor: 6 }, 'k', ctrl)).toEqual({ text: 'reboot', cursor: 6 });
  });

  it('never types a control character', () => {
    expect(isPrintable('\u0015')).toBe(false);
    expect(isPrintable('\u001b')).toBe(false);
    expect(editLine({ text: 'a', cursor: 1 }, '\u0007', noKey)).toEqual({ text: 'a', cursor: 1 });
  });

  it('control keys typed in one burst after / act as keys, not text', () => {
    // "/", "abc", Ctrl-U (clear), "x", Enter, then j: all read by the UI at once.
    const { state } = type(initialUiState, '/abc\u0015x\rj');
    expect(state.filter).toBe('x');
    expect(state.mode.kind).toBe('normal');
    expect(state.selectedId).toBe('sensor-1');
  });
});

describe('command prompt', () => {
  it('walks the history and the examples with ↑ and completes with Tab', () => {
    let state = type(initialUiState, 'cping\r').state;
    expect(state.commandHistory).toEqual(['ping']);
    state = handleKey(state, 'c', noKey, context).state;
    state = handleKey(state, '', { upArrow: true } as Key, context).state;
    expect(state.mode).toMatchObject({ text: 'ping' });
    state = handleKey(state, '', { upArrow: true } as Key, context).state;
    expect(state.mode).toMatchObject({ text: 'reboot' });
    state = type(state, '\u0015set').state;
    state = handleKey(state, '', { tab: true } as Key, context).state;
    expect(state.mode).toMatchObject({ text: 'set-interval 2s', cursor: 15 });
  });
});

describe('device commands', () => {
  it.each([
    ['set-interval 2', 2000],
    ['set-interval 2s', 2000],
    ['set-interval 500ms', 500],
    ['set-interval 1m', 60_000],
  ])('%s sends intervalMs %d', (text, intervalMs) => {
    expect(parseDeviceCommand('sensor-1', text)).toEqual({
      name: 'set-interval',
      topic: 'devices/sensor-1/commands/set-interval',
      payload: JSON.stringify({ intervalMs }),
    });
  });

  it.each([
    ['set-interval 50ms', /from 100ms to 1h/],
    ['set-interval soon', /"soon" is not an interval/],
    ['set-interval', /needs an interval/],
    ['launch', /"launch" is not a device command: use set-interval, ping, reboot/],
    ['reboot now', /reboot takes no argument/],
  ])('refuses %s', (text, message) => {
    expect(() => parseDeviceCommand('sensor-1', text)).toThrow(message);
  });

  it('stamps a ping so the device can say how long it took', () => {
    expect(parseDeviceCommand('s', 'ping', 1234).payload).toBe('{"sentAt":1234}');
  });
});

describe('bulk add, confirmations, sort, jumps', () => {
  it('a, then digits, then Enter adds that many of the chosen profile', () => {
    const result = type(initialUiState, 'a25j\r');
    expect(result.action).toEqual({ type: 'add-devices', profile: 'tracker', count: 25 });
    expect(type(initialUiState, 'a\r').action).toEqual({ type: 'add-devices', profile: 'climate', count: 1 });
  });

  it('n jumps to the next rejected device, wrapping around, and says when there is none', () => {
    let state = type(initialUiState, 'n').state;
    expect(state.selectedId).toBe('rogue-expired');
    state = type(state, 'n').state;
    expect(state.selectedId).toBe('rogue-sha1');
    state = type(state, 'n').state;
    expect(state.selectedId).toBe('rogue-expired');
    const none = handleKey(initialUiState, 'n', noKey, { ...context, isRejected: () => false });
    expect(none.action).toEqual({ type: 'notice', text: 'no rejected device in the list' });
  });

  it('s cycles the sort; each order sorts as it says', () => {
    const orders = [type(initialUiState, 's').state.sort, type(initialUiState, 'ss').state.sort];
    expect(orders).toEqual(['state', 'name']);
    const view = (id: string, state: DeviceView['state'], messages: number, seen: number): DeviceView => ({
      id,
      kind: 'climate',
      rogue: false,
      state,
      revoked: false,
      messages,
      series: [],
      recent: [],
      traffic: [],
      addedAt: 0,
      lastReadingAt: seen,
    });
    const devices = new Map(
      [
        view('sensor-10', 'online', 5, 300),
        view('sensor-9', 'rejected', 0, 100),
        view('sensor-2', 'online', 9, 200),
      ].map((d) => [d.id, d]),
    );
    const order = ['sensor-10', 'sensor-9', 'sensor-2'];
    expect(sortIds(order, devices, 'state')).toEqual(['sensor-9', 'sensor-10', 'sensor-2']);
    expect(sortIds(order, devices, 'name')).toEqual(['sensor-2', 'sensor-9', 'sensor-10']);
    expect(sortIds(order, devices, 'messages')).toEqual(['sensor-2', 'sensor-10', 'sensor-9']);
    expect(sortIds(order, devices, 'last-seen')).toEqual(['sensor-10', 'sensor-2', 'sensor-9']);
  });

  it('Enter opens the device on the whole screen; it scrolls no further than its end; Esc comes back', () => {
    const detail = { ...context, detailLines: 30, detailHeight: 18 };
    let state = handleKey(initialUiState, '', enter, detail).state;
    expect(state.mode).toEqual({ kind: 'detail', scroll: 0 });
    state = type(state, 'jjj', detail).state;
    expect(state.mode).toEqual({ kind: 'detail', scroll: 3 });
    state = handleKey(state, '', { end: true } as Key, detail).state;
    expect(state.mode).toEqual({ kind: 'detail', scroll: 12 });
    state = handleKey(state, '', { escape: true, meta: true } as Key, detail).state;
    expect(state.mode.kind).toBe('normal');
  });

  it('y opens the connect view of the selected device', () => {
    expect(type(initialUiState, 'jy').state.mode).toEqual({ kind: 'connect', id: 'sensor-1' });
  });

  it('Esc then q in one read (Ink calls it Alt+q) closes the connect view and quits, as typed', () => {
    const connect = type(initialUiState, 'jy').state;
    // What Ink hands over for the bytes ESC q: input "q", meta set, no escape.
    const altQ = { meta: true } as Key;
    expect(splitKeystrokes('q', altQ).map(([input, key]) => [input, key.escape === true])).toEqual([
      ['', true],
      ['q', false],
    ]);
    let result: ReturnType<typeof handleKey> = { state: connect };
    for (const [input, key] of splitKeystrokes('q', altQ)) {
      const next = handleKey(result.state, input, key, context);
      result = { state: next.state, action: next.action ?? result.action };
    }
    expect(result.action).toEqual({ type: 'quit' });
  });

  it('a bare Esc and Alt+arrow keys stay single keys', () => {
    expect(splitKeystrokes('', { escape: true, meta: true } as Key)).toHaveLength(1);
    expect(splitKeystrokes('', { upArrow: true, meta: true } as Key)).toHaveLength(1);
  });
});

describe('event log search', () => {
  const entry = (seq: number, text: string): LogEntry => ({
    seq,
    at: seq,
    source: 'broker',
    level: 'info',
    text,
  });
  const log = [entry(1, 'a EXPIRED'), entry(2, 'b'), entry(3, 'c expired'), entry(4, 'd'), entry(5, 'e')];

  it('finds the matching lines as offsets from the newest', () => {
    expect(searchOffsets(log, 'expired')).toEqual([2, 4]);
    expect(searchOffsets(log, '')).toEqual([]);
  });

  it('/ with the log focused searches it; n goes to older matches, N to newer ones', () => {
    const ctx = { ...context, logLength: 5, searchHits: [2, 4] };
    let state = type({ ...initialUiState, focus: 'events' }, '/expired\r', ctx).state;
    expect(state).toMatchObject({ logSearch: 'expired', logOffset: 2, filter: '' });
    state = type(state, 'n', ctx).state;
    expect(state.logOffset).toBe(4);
    const end = handleKey(state, 'n', noKey, ctx);
    expect(end.action).toEqual({ type: 'notice', text: 'no older match for "expired"' });
    expect(type(state, 'N', ctx).state.logOffset).toBe(2);
  });
});

describe('layout and footer', () => {
  it('splits list and detail only on wide, tall terminals; 80×24 gets the list and a selection summary', () => {
    expect(layoutFor(45, 160)).toMatchObject({ split: true, summaryHeight: 0 });
    const small = layoutFor(24, 80);
    expect(small).toMatchObject({ split: false, listWidth: 80, detailWidth: 0, summaryHeight: 2 });
    // Header 2 + body + log + footer 1 stay one line short of the terminal (no full-screen redraws).
    expect(2 + small.bodyHeight + small.logHeight + 1).toBe(23);
  });

  it('always ends with ? help and q quit, however narrow', () => {
    const hints = [
      'Enter details',
      'a add',
      'r rogue',
      'x revoke',
      'c command',
      'p pause',
      'y connect',
      'd remove',
    ];
    for (const width of [80, 100, 160]) {
      const line = fitHints(hints, width);
      expect(line.endsWith('? help  q quit')).toBe(true);
      expect(line.length).toBeLessThanOrEqual(width);
    }
    expect(fitHints(hints, 80, 60)).toBe('? help  q quit');
  });
});

describe('connect commands (y)', () => {
  it('names the real port, the client id, the CA, chain and key, quoted for a shell', () => {
    const [pub, sub] = mosquittoCommands(
      {
        host: '127.0.0.1',
        port: 40123,
        clientId: 'sensor-001',
        ca: '/s/ca.crt',
        cert: '/s p/chain.pem',
        key: '/s/key.pem',
      },
      'sensor-001',
    );
    expect(pub?.lines).toEqual([
      'mosquitto_pub -h 127.0.0.1 -p 40123 -i sensor-001 \\',
      '  --cafile /s/ca.crt \\',
      "  --cert '/s p/chain.pem' \\",
      '  --key /s/key.pem \\',
      `  -t devices/sensor-001/telemetry -m '{"temperature":21.5}'`,
    ]);
    expect(sub?.lines.at(-1)).toBe(`  -t 'devices/sensor-001/commands/#' -v`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});
