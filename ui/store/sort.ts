/** The device list's sort orders (`s` cycles through them) and the comparison each one means. Pure. */
import type { DeviceView } from './types.ts';

export const SORT_KEYS = ['added', 'state', 'name', 'messages', 'last-seen'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export function nextSort(sort: SortKey): SortKey {
  return SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length] as SortKey;
}

/** Trouble first: a person scanning by state wants the rejected and retrying devices on top. */
const STATE_RANK: Record<string, number> = {
  rejected: 0,
  'backing-off': 1,
  connecting: 2,
  'tls-handshake': 2,
  'mqtt-connect': 2,
  idle: 3,
  paused: 4,
  stopped: 5,
  online: 6,
};

/** When a device was last heard of: its last reading, else when it was added. */
export function lastSeen(device: DeviceView): number {
  return device.lastReadingAt ?? device.addedAt;
}

/** The ids in this order; `order` (the order devices were added) breaks ties, so the sort is stable. */
export function sortIds(
  ids: readonly string[],
  devices: ReadonlyMap<string, DeviceView>,
  sort: SortKey,
): readonly string[] {
  if (sort === 'added') return ids;
  const compare = comparator(sort);
  const rank = new Map(ids.map((id, index) => [id, index]));
  return [...ids].sort((a, b) => {
    const da = devices.get(a);
    const db = devices.get(b);
    const byKey = da && db ? compare(da, db) : 0;
    return byKey !== 0 ? byKey : (rank.get(a) ?? 0) - (rank.get(b) ?? 0);
  });
}

function comparator(sort: Exclude<SortKey, 'added'>): (a: DeviceView, b: DeviceView) => number {
  switch (sort) {
    case 'state':
      return (a, b) => (STATE_RANK[a.state] ?? 9) - (STATE_RANK[b.state] ?? 9);
    case 'name':
      return (a, b) => a.id.localeCompare(b.id, 'en', { numeric: true });
    case 'messages':
      return (a, b) => b.messages - a.messages;
    case 'last-seen':
      return (a, b) => lastSeen(b) - lastSeen(a);
  }
}
