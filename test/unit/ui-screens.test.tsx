/**
 * The dashboard on a small terminal (80×24) and the messages it prints: the reason of a rejection on the first
 * screen, the full-screen device view, the footer's essential keys, the selection marker without colour, the connect
 * view, bulk add, external clients, and no "sent"/"paused" that did not happen.
 */
import { parseAuditRecord } from '../../core/audit.ts';
import chalk from 'chalk';
import { afterEach, describe, expect, it } from 'vitest';
import { REASONS } from '../../core/reasons.ts';
import { App } from '../../ui/App.tsx';
import { ROGUE_ITEMS } from '../../ui/catalogue.ts';
import { runAction } from '../../ui/run-action.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import {
  added,
  failedAttempt,
  type FakeControls,
  fakeControls,
  KEYS,
  online,
  plain,
  renderAt,
  waitForContent,
} from '../helpers/ui-render.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function fleet(count: number): FleetStore {
  const store = new FleetStore({ frameMs: 0 });
  cleanups.push(() => store.dispose());
  store.setBroker({ host: '127.0.0.1', port: 8883, startedAt: Date.now(), caFingerprint: 'AA:BB' });
  for (let i = 1; i <= count; i++) {
    const id = `sensor-${String(i).padStart(3, '0')}`;
    store.applyDeviceEvent(added(id));
    store.applyDeviceEvent(online(id));
  }
  return store;
}

function rejectExpired(store: FleetStore, id = 'rogue-expired'): void {
  store.applyDeviceEvent({ type: 'ladder', id, attempt: failedAttempt('client-verified', 'EXPIRED'), at: 1 });
  store.applyDeviceEvent({
    type: 'rejected',
    id,
    reason: 'EXPIRED',
    step: 'client-verified',
    detail: 'CERT_HAS_EXPIRED',
    at: 1,
  });
}

function mountAt(store: FleetStore, columns: number, rows: number, controls: FakeControls = fakeControls()) {
  const app = renderAt(<App store={store} controls={controls} />, columns, rows);
  cleanups.push(app.unmount);
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      app.stdin.write(key);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  };
  return { app, press, controls };
}

describe('80×24', () => {
  it('shows the selected rejected device’s reason on the first screen, and the essential keys', async () => {
    const store = fleet(30);
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    rejectExpired(store);
    const { app, press } = mountAt(store, 80, 24);
    await waitForContent(app.lastFrame, 'sensor-001');
    await press(KEYS.end);
    const frame = await waitForContent(app.lastFrame, `↳ EXPIRED: ${REASONS.EXPIRED}`);
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(frame).toMatch(/›✗ rogue-expired +expired +EXPIRED/);
    expect(frame).toContain(
      'rogue-expired  rogue expired  ✗ rejected at step 5 (server verifies the client)',
    );
    expect(lines.at(-1)).toMatch(/Enter details .*\? help {2}q quit$/);
  });

  it('Enter shows the device on the whole screen, ladder first; j scrolls; Esc comes back', async () => {
    const store = fleet(3);
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    rejectExpired(store);
    // More than a screen: the broker refused it a few more times.
    for (let i = 0; i < 6; i++) {
      const refused = {
        ts: new Date().toISOString(),
        event: 'handshake-refused',
        reason: 'EXPIRED',
        cn: 'rogue-expired',
      };
      store.applyAudit(parseAuditRecord(JSON.stringify(refused)));
    }
    const { app, press } = mountAt(store, 80, 24);
    await waitForContent(app.lastFrame, 'sensor-001');
    await press(KEYS.end, KEYS.enter);
    let frame = await waitForContent(app.lastFrame, '✗ 5 server verifies the client');
    const lines = frame.split('\n');
    const reasonAt = lines.findIndex((line) => line.includes(`↳ EXPIRED: ${REASONS.EXPIRED}`));
    expect(reasonAt).toBeGreaterThan(0);
    expect(reasonAt).toBeLessThan(16);
    expect(frame).not.toContain('DEVICE'); // the list is gone: the device has the screen
    await press('j', 'j', 'j');
    frame = await waitForContent(app.lastFrame, (f) => !f.includes('mTLS handshake'));
    expect(frame).toContain('✓ 1 client connects (TCP)');
    await press(KEYS.escape);
    await waitForContent(app.lastFrame, (f) => f.includes('DEVICE') && f.includes('sensor-001'));
  });
});

describe('without colour', () => {
  it('marks the selection with › and writes no colour codes when colours are off (NO_COLOR, FORCE_COLOR=0)', async () => {
    const level = chalk.level;
    chalk.level = 0;
    cleanups.push(() => {
      chalk.level = level;
    });
    const { app, press } = mountAt(fleet(5), 80, 24);
    await waitForContent(app.lastFrame, 'sensor-001');
    await press('j');
    const raw = await waitForContent(app.lastFrame, /›● sensor-002/);
    expect(app.lastFrame()).not.toMatch(/\u001b\[(3\d|9\d|7)m/);
    expect(raw).toMatch(/ ● sensor-001/);
  });
});

describe('actions from the keyboard', () => {
  it('y shows ready-to-run mosquitto commands with the real port and files', async () => {
    const { app, press } = mountAt(fleet(2), 160, 45);
    await waitForContent(app.lastFrame, 'sensor-001');
    await press('y');
    const frame = await waitForContent(app.lastFrame, 'mosquitto_sub');
    expect(frame).toContain(
      'mosquitto_pub -h 127.0.0.1 -p 8883 -i sensor-001 \\\n  --cafile /pki/root/ca.crt \\\n',
    );
    expect(frame).toContain('  --cert /pki/sensor-001/chain.pem \\\n  --key /pki/sensor-001/key.pem \\\n');
    expect(frame).toContain('certfleet ui --port 8883');
  });

  it('a, a count and Enter adds that many; the new rogue is selected once it appears', async () => {
    const store = fleet(3);
    const { app, press, controls } = mountAt(store, 80, 24);
    await waitForContent(app.lastFrame, 'sensor-001');
    await press('a', '3', KEYS.enter);
    await waitForContent(app.lastFrame, 'added 3 climate sensors');
    expect(controls.calls).toEqual(['add 3 climate']);
    await press(
      'r',
      ...Array(ROGUE_ITEMS.findIndex((i) => i.value === 'expired')).fill(KEYS.down),
      KEYS.enter,
    );
    await waitForContent(app.lastFrame, 'added rogue rogue-expired');
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    rejectExpired(store);
    await waitForContent(app.lastFrame, `↳ EXPIRED: ${REASONS.EXPIRED}`);
  });
});

describe('external clients', () => {
  it('lists a client the broker saw but the dashboard did not start, marked external, with its state', async () => {
    const store = fleet(2);
    const record = { ts: new Date().toISOString(), reason: 'OK', cn: 'sensor-900', clientId: 'sensor-900' };
    store.applyAudit(parseAuditRecord(JSON.stringify({ ...record, event: 'connection-accepted' })));
    store.applyAudit(
      parseAuditRecord(JSON.stringify({ ...record, event: 'connection-accepted', cn: 'dashboard' })),
    );
    expect(store.devices.get('sensor-900')).toMatchObject({ external: true, state: 'online' });
    expect(store.devices.has('dashboard')).toBe(false);
    const { app } = mountAt(store, 160, 45);
    await waitForContent(app.lastFrame, /sensor-900 +external +online/);
    store.applyAudit(
      parseAuditRecord(JSON.stringify({ ...record, event: 'disconnected', reason: 'CLIENT_CLOSED' })),
    );
    expect(store.devices.get('sensor-900')).toMatchObject({ state: 'stopped', reason: 'CLIENT_CLOSED' });
    // The fleet adding a device of that name makes it ours.
    store.applyDeviceEvent(added('sensor-900'));
    expect(store.devices.get('sensor-900')?.external).toBeUndefined();
    expect(store.order.filter((id) => id === 'sensor-900')).toHaveLength(1);
  });
});

describe('a cluster of brokers', () => {
  it('shows the node that accepted a device (from the audit record) in its detail line and the log', async () => {
    const store = fleet(2);
    const record = { ts: new Date().toISOString(), reason: 'OK', cn: 'sensor-001', clientId: 'sensor-001' };
    store.applyAudit(
      parseAuditRecord(JSON.stringify({ ...record, event: 'connection-accepted', node: 'local-2' })),
    );
    expect(store.devices.get('sensor-001')?.node).toBe('local-2');
    // a refusal on another node says where it was decided, but is not where the device is
    store.applyAudit(
      parseAuditRecord(
        JSON.stringify({ ...record, event: 'publish-denied', reason: 'PUBLISH_DENIED', node: 'local-1' }),
      ),
    );
    expect(store.devices.get('sensor-001')?.node).toBe('local-2');
    expect(store.devices.get('sensor-002')?.node).toBeUndefined();
    const { app } = mountAt(store, 160, 45);
    await waitForContent(app.lastFrame, /sensor-001 .*online · on local-2/);
    await waitForContent(app.lastFrame, /publish-denied · sensor-001 .*@local-1/);
  });
});

describe('every message is true', () => {
  const lastNote = (store: FleetStore) => plain(store.feedback?.text);

  it('refuses a command to a device that is not online, and sends nothing', () => {
    const store = fleet(1);
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    rejectExpired(store);
    const controls = fakeControls();
    runAction({ type: 'command', id: 'rogue-expired', command: 'ping' }, store, controls);
    expect(lastNote(store)).toBe(
      'rogue-expired is not online (rejected): a command cannot reach it; nothing sent',
    );
    expect(controls.calls).toEqual([]);
  });

  it('says "sent" only once the broker took it, and why not when it could not', async () => {
    const store = fleet(1);
    const controls = fakeControls();
    runAction({ type: 'command', id: 'sensor-001', command: 'ping' }, store, controls);
    await store.waitFor(() => store.feedback?.text.startsWith('sent') ?? false, 1000);
    expect(lastNote(store)).toBe(
      'sent "ping" to sensor-001 (the broker took it); its reply shows in the log',
    );
    controls.sendCommand = async () => {
      throw new Error('the dashboard is not connected to the broker');
    };
    runAction({ type: 'command', id: 'sensor-001', command: 'ping' }, store, controls);
    await store.waitFor(() => store.feedback?.level === 'error', 1000);
    expect(lastNote(store)).toBe(
      'sending "ping" to sensor-001 failed: the dashboard is not connected to the broker',
    );
  });

  it('p on a rejected device says it is not running; on a running one "paused" waits for the device', async () => {
    const store = fleet(1);
    store.applyDeviceEvent(added('rogue-expired', 'expired', true));
    rejectExpired(store);
    const controls = fakeControls();
    runAction({ type: 'toggle-pause', id: 'rogue-expired' }, store, controls);
    expect(lastNote(store)).toBe('rogue-expired is not running (rejected): there is nothing to pause');
    expect(controls.calls).toEqual([]);
    runAction({ type: 'toggle-pause', id: 'sensor-001' }, store, controls);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lastNote(store)).toBe('pausing sensor-001…');
    store.applyDeviceEvent({ type: 'state', id: 'sensor-001', state: 'paused', previous: 'online', at: 2 });
    await store.waitFor(() => store.feedback?.text === 'sensor-001 paused', 1000);
    expect(controls.calls).toEqual(['pause sensor-001']);
  });
});

describe('a reused credential', () => {
  it('attributes each audit record to the device of that TCP connection, not to the first with the CN', () => {
    const store = fleet(0);
    store.applyDeviceEvent(added('rogue-unknown-cn', 'unknown-cn', true));
    store.applyDeviceEvent(added('rogue-unknown-cn-2', 'unknown-cn', true));
    const attempt = (localPort: number) => ({
      ...failedAttempt('access-granted', 'UNKNOWN_IDENTITY'),
      localPort,
    });
    store.applyDeviceEvent({ type: 'ladder', id: 'rogue-unknown-cn', attempt: attempt(40001), at: 1 });
    store.applyDeviceEvent({ type: 'ladder', id: 'rogue-unknown-cn-2', attempt: attempt(40002), at: 1 });
    store.applyAudit(
      parseAuditRecord(
        JSON.stringify({
          ts: new Date().toISOString(),
          event: 'connect-refused',
          reason: 'UNKNOWN_IDENTITY',
          cn: 'rogue-unknown-cn',
          clientId: 'rogue-unknown-cn',
          peer: { address: '127.0.0.1', port: 40002 },
        }),
      ),
    );
    expect(store.devices.get('rogue-unknown-cn-2')?.recent.at(-1)?.text).toContain('connect-refused');
    expect(
      store.devices.get('rogue-unknown-cn')?.recent.some((e) => e.text.includes('connect-refused')),
    ).toBe(false);
  });
});
