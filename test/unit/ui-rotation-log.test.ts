/** The dashboard's event log says when a device rotated its certificate (with the new serial) or was provisioned. */
import { describe, expect, it } from 'vitest';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import { added } from '../helpers/ui-render.ts';

describe('FleetStore and certificate lifecycle events', () => {
  it('logs a rotation with old and new serial, a provisioning with its claim, and a failed rotation as a warning', () => {
    const store = new FleetStore({ frameMs: 0 });
    store.applyDeviceEvent(added('sensor-001'));
    store.applyDeviceEvent({
      type: 'rotated',
      id: 'sensor-001',
      previousSerial: 'AA01',
      serial: 'BB02',
      notAfter: Date.parse('2026-11-30T04:00:20Z'),
      requestMs: 12,
      switchMs: 40,
      at: 1,
    });
    expect(store.log.at(-1)).toMatchObject({ level: 'info', id: 'sensor-001' });
    expect(store.log.at(-1)?.text).toBe(
      'sensor-001 rotated: serial AA01 → BB02, valid to 04:00:20 (request 12 ms, reconnect 40 ms)',
    );
    store.applyDeviceEvent({
      type: 'provisioned',
      id: 'sensor-001',
      claim: 'claim-f',
      serial: 'CC03',
      notAfter: 0,
      requestMs: 9,
      at: 2,
    });
    expect(store.log.at(-1)?.text).toBe('sensor-001 provisioned by claim-f: serial CC03');
    store.applyDeviceEvent({
      type: 'rotation-failed',
      id: 'sensor-001',
      reason: 'ENROLLMENT_UNAVAILABLE',
      detail: 'no answer',
      at: 3,
    });
    expect(store.log.at(-1)).toMatchObject({
      level: 'warn',
      text: 'sensor-001 rotation failed: ENROLLMENT_UNAVAILABLE — no answer',
    });
  });
});
