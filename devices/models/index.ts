import type { DeviceProfile } from '../events.ts';
import { createRandom } from '../random.ts';
import { ClimateModel } from './climate.ts';
import { DoorModel } from './door.ts';
import { type FaultConfig, FaultyModel } from './faults.ts';
import { MeterModel } from './meter.ts';
import { TrackerModel } from './tracker.ts';
import type { SensorModel } from './types.ts';

export type { FaultConfig } from './faults.ts';
export { FaultyModel, NO_FAULTS } from './faults.ts';
export type { Reading, SensorModel } from './types.ts';

export const DEVICE_PROFILES: readonly DeviceProfile[] = ['climate', 'tracker', 'meter', 'door'];

/** The id prefix the default policy grants for each profile (sensor-*, tracker-*, meter-*, door-*). */
export const PROFILE_ID_PREFIX: Record<DeviceProfile, string> = {
  climate: 'sensor',
  tracker: 'tracker',
  meter: 'meter',
  door: 'door',
};

export function createSensorModel(profile: DeviceProfile, seed: string | number): SensorModel {
  const random = createRandom(`${profile}:${seed}`);
  switch (profile) {
    case 'climate':
      return new ClimateModel(random);
    case 'tracker':
      return new TrackerModel(random);
    case 'meter':
      return new MeterModel(random);
    case 'door':
      return new DoorModel(random);
  }
}

/** A seeded model with faults layered on top (their own random stream). */
export function createFaultyModel(
  profile: DeviceProfile,
  seed: string | number,
  faults: FaultConfig,
): FaultyModel {
  return new FaultyModel(createSensorModel(profile, seed), faults, createRandom(`faults:${seed}`));
}
