/**
 * The fleet's commands across the worker-thread boundary, against our real broker: add, pause/resume, send command,
 * remove, and a live revocation that the broker enforces and the audit explains.
 */
import { describe, expect } from 'vitest';
import type { DeviceEvent } from '../../devices/events.ts';
import { auditFeedExplainer } from '../../devices/explain.ts';
import { Fleet } from '../../devices/fleet.ts';
import { planFleet } from '../../devices/plan.ts';
import { EventLog } from '../helpers/devices-fixture.ts';
import { test } from '../helpers/fixtures.ts';

const since = (log: EventLog, index: number, match: (event: DeviceEvent) => boolean) =>
  log.waitFor((event) => log.events.indexOf(event) >= index && match(event));

describe('the fleet', () => {
  test('adds, pauses, resumes, commands, removes and sees a revoked device cut off', async ({
    stateDir,
    cleanup,
    startBroker,
  }) => {
    const broker = await startBroker();
    const explain = auditFeedExplainer((listener) => {
      broker.on('audit', listener);
      return () => broker.off('audit', listener as never);
    });
    cleanup(() => explain.close());
    const fleet = new Fleet({ workers: 2, connectRatePerSecond: 20, stateDir, explain });
    cleanup(() => fleet.stop());
    const log = new EventLog();
    fleet.subscribe(log.pushAll);
    const specs = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port: broker.port },
      count: 4,
      profiles: ['climate', 'tracker', 'meter', 'door'],
      intervalMs: 200,
    });
    fleet.add(specs);
    for (const spec of specs) {
      await log.waitFor((event) => event.type === 'added' && event.device.id === spec.id);
      await log.state(spec.id, 'online');
    }
    expect(fleet.size).toBe(4);
    // Telemetry arrives in batches: the latest reading per device, with its message counts.
    const reading = await log.waitFor(
      (event) => event.type === 'telemetry' && event.id === 'tracker-002' && (event.messages?.acked ?? 0) > 1,
    );
    expect(reading.type === 'telemetry' && typeof reading.reading.lat).toBe('number');

    let mark = log.events.length;
    fleet.pause(['meter-003']);
    await since(
      log,
      mark,
      (event) => event.type === 'state' && event.id === 'meter-003' && event.state === 'paused',
    );
    fleet.resume(['meter-003']);
    await since(
      log,
      mark,
      (event) => event.type === 'state' && event.id === 'meter-003' && event.state === 'online',
    );

    fleet.sendCommand('door-004', 'ping', { sentAt: Date.now() });
    const pong = await log.waitFor((event) => event.type === 'command' && event.id === 'door-004');
    expect(pong).toMatchObject({ command: 'ping', result: 'pong' });

    fleet.remove(['sensor-001']);
    await log.waitFor((event) => event.type === 'removed' && event.id === 'sensor-001');
    expect(fleet.size).toBe(3);

    // Revoked live: the broker reloads its CRL and closes the session; the device's next attempt is refused,
    // and the broker's audit names the reason.
    mark = log.events.length;
    await fleet.revoke('tracker-002');
    const verdict = await since(
      log,
      mark,
      (event) =>
        event.type === 'rejected' && event.id === 'tracker-002' && event.explainedBy === 'broker-audit',
    );
    expect(verdict).toMatchObject({ reason: 'REVOKED', step: 'client-verified' });

    const results = await fleet.stop();
    expect(results.find((result) => result.id === 'tracker-002')).toMatchObject({
      state: 'rejected',
      reason: 'REVOKED',
    });
    expect(results.find((result) => result.id === 'meter-003')).toMatchObject({ state: 'stopped' });
    expect(results.map((result) => result.id).sort()).toEqual(['door-004', 'meter-003', 'tracker-002']);
  }, 90_000);
});
