import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { REASONS, type Reason } from '../../core/reasons.ts';
import { LADDER_STEPS, type DeviceState, type LadderStepName } from '../../devices/events.ts';
import { ROGUE_KINDS } from '../../core/rogues.ts';
import { App } from '../../ui/App.tsx';
import { ROGUE_ITEMS } from '../../ui/catalogue.ts';
import { Ladder } from '../../ui/components/Ladder.tsx';
import { STEP_LABELS } from '../../core/ladder.ts';
import { AttemptRecorder } from '../../devices/ladder.ts';
import { stateStyle } from '../../ui/status-style.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import {
  added,
  failedAttempt,
  fakeControls,
  KEYS,
  online,
  plain,
  waitForContent,
} from '../helpers/ui-render.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function mount(store: FleetStore, controls = fakeControls()) {
  const app = render(<App store={store} controls={controls} />);
  cleanups.push(() => {
    app.unmount();
    store.dispose();
  });
  return { app, controls };
}

/** Ink reads keys asynchronously: write, then give the input loop a turn. */
async function press(app: ReturnType<typeof render>, ...keys: string[]) {
  for (const key of keys) {
    app.stdin.write(key);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

function fleetOf(count: number): FleetStore {
  const store = new FleetStore({ frameMs: 0 });
  store.setBroker({ host: '127.0.0.1', port: 8883, startedAt: Date.now(), caFingerprint: 'AA:BB' });
  for (let i = 0; i < count; i++) {
    const id = `sensor-${String(i).padStart(4, '0')}`;
    store.applyDeviceEvent(added(id));
    store.applyDeviceEvent(online(id));
  }
  return store;
}

describe('state → symbol and colour', () => {
  const expected: [DeviceState, string, string][] = [
    ['online', '●', 'green'],
    ['rejected', '✗', 'red'],
    ['connecting', '…', 'yellow'],
    ['tls-handshake', '…', 'yellow'],
    ['backing-off', '↻', 'yellow'],
    ['paused', '‖', 'blue'],
    ['stopped', '■', 'gray'],
    ['idle', '·', 'gray'],
  ];
  it.each(expected)('%s is %s in %s', (state, symbol, color) => {
    expect(stateStyle(state)).toMatchObject({ symbol, color });
  });

  it('marks a revoked device that is still connected', () => {
    expect(stateStyle('online', true).label).toBe('online (revoked)');
    expect(stateStyle('rejected', true).label).toBe('rejected');
  });
});

describe('handshake ladder', () => {
  // Where each refusal happens on the seven steps (DESIGN.md).
  const cases: [Reason, LadderStepName][] = [
    ['BROKER_UNREACHABLE', 'tcp-connect'],
    ['SERVER_UNTRUSTED', 'server-verified'],
    ['HOSTNAME_MISMATCH', 'server-verified'],
    ['KEY_MISMATCH', 'client-certificate'],
    ['NO_CERTIFICATE', 'client-verified'],
    ['UNKNOWN_CA', 'client-verified'],
    ['SELF_SIGNED', 'client-verified'],
    ['EXPIRED', 'client-verified'],
    ['NOT_YET_VALID', 'client-verified'],
    ['REVOKED', 'client-verified'],
    ['WRONG_KEY_USAGE', 'client-verified'],
    ['WEAK_SIGNATURE', 'client-verified'],
    ['UNKNOWN_IDENTITY', 'access-granted'],
    ['CLIENT_ID_MISMATCH', 'access-granted'],
    ['PUBLISH_DENIED', 'messages-flow'],
    ['SUBSCRIBE_DENIED', 'messages-flow'],
  ];

  it.each(cases)('%s fails at %s with the reason in plain words', (reason, step) => {
    const app = render(<Ladder attempt={failedAttempt(step, reason, 'openssl said so')} width={70} />);
    cleanups.push(app.unmount);
    const lines = plain(app.lastFrame()).split('\n');
    const failedAt = LADDER_STEPS.indexOf(step);
    const stepLines = lines.filter((line) => /^ [✓✗…-] \d /.test(line));
    expect(stepLines).toHaveLength(7);
    stepLines.forEach((line, index) => {
      const symbol = index < failedAt ? '✓' : index === failedAt ? '✗' : '-';
      expect(line.startsWith(` ${symbol} ${index + 1} `)).toBe(true);
    });
    expect(stepLines[failedAt]).toContain(STEP_LABELS[step].slice(0, 20));
    const reasonLine = lines[lines.indexOf(stepLines[failedAt] as string) + 1];
    expect(reasonLine).toContain(`↳ ${reason}: ${REASONS[reason]}`);
    expect(plain(app.lastFrame())).toContain('openssl said so');
  });

  it('draws the failing step from a rejection even without a reported attempt', () => {
    const app = render(<Ladder failedStep="access-granted" reason="UNKNOWN_IDENTITY" width={70} />);
    cleanups.push(app.unmount);
    const frame = plain(app.lastFrame());
    expect(frame).toContain(' ✓ 5 server verifies the client');
    expect(frame).toContain(' ✗ 6 server grants access');
    expect(frame).toContain(`UNKNOWN_IDENTITY: ${REASONS.UNKNOWN_IDENTITY}`);
    expect(frame).toContain(' - 7 messages flow');
  });

  it('shows a step the device could not see as passed when a later step was decided (TLS 1.3)', () => {
    const attempt = failedAttempt('access-granted', 'CLIENT_ID_MISMATCH');
    attempt.steps[4] = { step: 'client-verified', status: 'pending' };
    const app = render(<Ladder attempt={attempt} width={70} />);
    cleanups.push(app.unmount);
    const frame = plain(app.lastFrame());
    expect(frame).toContain(' ✓ 5 server verifies the client');
    expect(frame).toContain(' ✗ 6 server grants access');
  });

  it('shows the steps a rejection never reached as not run: wrong-key fails before any connection', () => {
    const recorder = new AttemptRecorder(1, 0);
    recorder.fail('client-certificate', 'KEY_MISMATCH', 'key values mismatch', 5);
    const app = render(<Ladder attempt={recorder.snapshot()} width={70} />);
    cleanups.push(app.unmount);
    const steps = plain(app.lastFrame())
      .split('\n')
      .filter((line) => /^ [✓✗…-] \d /.test(line));
    expect(steps.map((line) => line.slice(1, 4))).toEqual(['- 1', '- 2', '- 3', '✗ 4', '- 5', '- 6', '- 7']);
    expect(steps.filter((line) => line.endsWith('not run'))).toHaveLength(6);
  });

  it("draws the broker's verdict where the device only saw CONNACK 5, with no trace of the provisional reason", () => {
    const attempt = failedAttempt('access-granted', 'CLOSED_BY_BROKER');
    attempt.steps[4] = { step: 'client-verified', status: 'pending' };
    const app = render(
      <Ladder
        attempt={attempt}
        failedStep="client-verified"
        reason="EXPIRED"
        detail="CERT_HAS_EXPIRED"
        width={70}
      />,
    );
    cleanups.push(app.unmount);
    const frame = plain(app.lastFrame());
    expect(frame).toContain(' ✗ 5 server verifies the client');
    expect(frame).toContain(`EXPIRED: ${REASONS.EXPIRED}`);
    expect(frame).toMatch(/ - 6 server grants access.*not run/);
    expect(frame).not.toContain('CLOSED_BY_BROKER');
  });

  it('shows every step pending before the device reports anything', () => {
    const app = render(<Ladder width={70} />);
    cleanups.push(app.unmount);
    expect(plain(app.lastFrame()).match(/ … \d /g)).toHaveLength(7);
  });
});

describe('dashboard', () => {
  it('renders only the rows that fit, never the full terminal height, with a thousand devices', async () => {
    const { app } = mount(fleetOf(1000));
    const frame = await waitForContent(app.lastFrame, 'of 1000');
    // ink-testing-library has no rows: the dashboard assumes 24 and must stay below it.
    expect(frame.split('\n').length).toBeLessThan(24);
    expect(frame).toContain('sensor-0000');
    expect(frame).not.toContain('sensor-0100');
    expect(frame).toMatch(/devices 1–\d+ of 1000/);
  });

  it('scrolls with End, PgUp and j/k and keeps the selection in view', async () => {
    const { app } = mount(fleetOf(1000));
    await waitForContent(app.lastFrame, 'sensor-0000');
    await press(app, KEYS.end);
    // The selected row (›), not the event log's mention of the newest device.
    let frame = await waitForContent(app.lastFrame, '›● sensor-0999');
    expect(frame).not.toContain('sensor-0000');
    expect(frame).toMatch(/–1000 of 1000/);
    await press(app, KEYS.pageUp, 'k');
    frame = await waitForContent(app.lastFrame, (f) => !f.includes('● sensor-0999'));
    expect(frame).toMatch(/sensor-09\d\d/);
    await press(app, KEYS.home);
    await waitForContent(app.lastFrame, /devices 1–\d+ of 1000/);
  });

  it('opens the help with ? and closes it with any key', async () => {
    const { app } = mount(fleetOf(3));
    await waitForContent(app.lastFrame, 'sensor-0000');
    await press(app, '?');
    const frame = await waitForContent(app.lastFrame, 'certfleet help');
    expect(frame).toContain("revoke the selected device's certificate");
    expect(frame).toContain('any key: close help');
    await press(app, 'x');
    await waitForContent(app.lastFrame, (f) => !f.includes('certfleet help') && f.includes('sensor-0000'));
  });

  it('offers every rogue kind with a description and adds the one picked', async () => {
    expect(ROGUE_ITEMS.map((item) => item.value)).toEqual([...ROGUE_KINDS]);
    const { app, controls } = mount(fleetOf(3));
    await waitForContent(app.lastFrame, 'sensor-0000');
    await press(app, 'r');
    await waitForContent(app.lastFrame, 'Add a rogue device');
    const expiredAt = ROGUE_ITEMS.findIndex((item) => item.value === 'expired');
    await press(app, ...Array(expiredAt).fill(KEYS.down));
    await waitForContent(app.lastFrame, '› expired');
    await press(app, KEYS.enter);
    await waitForContent(app.lastFrame, 'added rogue rogue-expired');
    expect(controls.calls).toEqual(['rogue expired']);
  });

  it('revokes the selected device with x and says so', async () => {
    const { app, controls } = mount(fleetOf(3));
    await waitForContent(app.lastFrame, 'sensor-0000');
    await press(app, 'j', 'x');
    await waitForContent(app.lastFrame, "Revoke sensor-0001's certificate?");
    expect(controls.calls).toEqual([]);
    await press(app, 'y');
    await waitForContent(app.lastFrame, 'revoked sensor-0001');
    expect(controls.calls).toEqual(['revoke sensor-0001']);
  });

  it('filters the list and the log with /', async () => {
    const store = fleetOf(20);
    store.applyDeviceEvent(added('rogue-sha1', 'sha1', true));
    const { app } = mount(store);
    await waitForContent(app.lastFrame, 'sensor-0000');
    await press(app, '/', ...'sha1', KEYS.enter);
    const frame = await waitForContent(app.lastFrame, 'filter "sha1"');
    expect(frame).toContain('rogue-sha1');
    expect(frame).not.toContain('sensor-0000');
    expect(frame).toContain('devices 1–1 of 1');
    await press(app, KEYS.escape);
    await waitForContent(app.lastFrame, 'sensor-0000');
  });

  it('shows the selected rogue rejected with its ladder and reason in the detail pane', async () => {
    const store = fleetOf(0);
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    store.applyDeviceEvent({
      type: 'ladder',
      id: 'rogue-expired',
      attempt: failedAttempt('client-verified', 'EXPIRED'),
      at: 1,
    });
    store.applyDeviceEvent({
      type: 'rejected',
      id: 'rogue-expired',
      reason: 'EXPIRED',
      step: 'client-verified',
      detail: 'CERT_HAS_EXPIRED',
      at: 1,
    });
    const { app } = mount(store);
    // 100 columns: the list has the width, the selection summary under it already gives the reason.
    let frame = await waitForContent(app.lastFrame, `↳ EXPIRED: ${REASONS.EXPIRED}`);
    expect(frame).toContain('✗ rejected at step 5 (server verifies the client)');
    await press(app, KEYS.enter);
    frame = await waitForContent(app.lastFrame, '✗ 5 server verifies the client');
    expect(frame).toContain('rogue-expired  rogue expired  ✗ rejected');
    expect(frame).toContain(`EXPIRED: ${REASONS.EXPIRED}`);
    await press(app, KEYS.escape);
    await waitForContent(app.lastFrame, (f) => f.includes('DEVICE') && !f.includes('✗ 5 server verifies'));
  });

  it('counts every key of a burst the UI read at once (typing faster than it repaints)', async () => {
    const store = fleetOf(20);
    store.applyDeviceEvent(added('rogue-sha1', 'sha1', true));
    const { app } = mount(store);
    await waitForContent(app.lastFrame, 'sensor-0000');
    await press(app, 'jjj');
    await waitForContent(app.lastFrame, /sensor-0003 {2}climate {2}● online/);
    await press(app, '/sha1\r');
    const frame = await waitForContent(app.lastFrame, 'filter "sha1"');
    expect(frame).toContain('devices 1–1 of 1');
  });
});
