/** What the `a` and `r` menus offer: sensor profiles and every rogue kind of DESIGN.md, each with one line. */
import type { DeviceProfile } from '../devices/events.ts';
import { ROGUE_KINDS, ROGUES, type RogueKind } from '../core/rogues.ts';

export interface MenuItem<T extends string = string> {
  value: T;
  description: string;
}

export const PROFILE_ITEMS: readonly MenuItem<DeviceProfile>[] = [
  { value: 'climate', description: 'temperature and humidity sensor' },
  { value: 'tracker', description: 'GPS tracker: position and speed' },
  { value: 'meter', description: 'power meter: watts and kWh' },
  { value: 'door', description: 'door contact: open/closed events' },
];

/** Every rogue kind, in the catalogue's order, with its one line (core/rogues.ts). */
export const ROGUE_ITEMS: readonly MenuItem<RogueKind>[] = ROGUE_KINDS.map((kind) => ({
  value: kind,
  description: ROGUES[kind].description,
}));
