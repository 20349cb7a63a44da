/**
 * The dashboard's demo fleet is planned in certificate batches (ui/launch/live-controls.ts) so the first devices
 * connect while later certificates are issued — and the batches add up to exactly the devices one plan would make:
 * the same ids, profiles cycling the same way, the rogues (and a behaviour rogue's victim) with the first batch.
 * Real PKI (certificates issued on disk); only the fleet is a recorder of what it was asked to start.
 */
import { expect } from 'vitest';
import type { Fleet } from '../../devices/fleet.ts';
import { planFleet } from '../../devices/plan.ts';
import type { DeviceSpec } from '../../devices/spec.ts';
import { LiveControls } from '../../ui/launch/live-controls.ts';
import { test } from '../helpers/fixtures.ts';

const broker = { host: '127.0.0.1', port: 1, servername: 'localhost' };
// Three profiles: a batch of 100 ends mid-cycle, so the next batch must carry on from the right one.
const profiles = ['climate', 'tracker', 'meter'] as const;

test('130 sensors start in a batch of 100 (with the rogues) and one of 30, as one plan would', async ({
  stateDir,
}) => {
  const batches: DeviceSpec[][] = [];
  const fleet = { add: (specs: DeviceSpec[]) => batches.push(specs) } as unknown as Fleet;
  const controls = new LiveControls({
    stateDir,
    fleet,
    pki: {
      call: async <T>(method: string, ...args: unknown[]) =>
        (method === 'plan' ? planFleet(args[0] as never) : undefined) as T,
    },
    broker,
    intervalMs: 2000,
    publish: async () => {},
    quit: async () => {},
  });

  const ids = await controls.start(130, [...profiles], ['expired', 'clientid-spoof']);

  expect(batches.map((batch) => batch.length)).toEqual([102, 30]);
  const whole = await planFleet({
    stateDir,
    broker,
    count: 130,
    profiles: [...profiles],
    rogues: ['expired', 'clientid-spoof'],
    intervalMs: 2000,
  });
  const summary = (spec: DeviceSpec) => [spec.id, spec.kind, spec.clientId, spec.victim];
  expect(batches.flat().map(summary).sort()).toEqual(whole.map(summary).sort());
  expect(ids).toEqual(batches.flat().map((spec) => spec.id));
  // The next devices added from the dashboard continue the numbering.
  expect(await controls.addDevices('climate', 1)).toEqual(['sensor-131']);
});
