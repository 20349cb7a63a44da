/**
 * Carries out an action from the keyboard on the fleet, telling the user what is happening and how it ended. Every
 * message is true when it is shown: "paused" once the device reports it, "sent" once the broker acknowledged the
 * command; an action that cannot work (a command to a device that is not online) is refused with the reason.
 */
import type { DeviceState } from '../devices/events.ts';
import type { FleetControls } from './controls.ts';
import type { Action } from './keys.ts';
import type { FleetStore } from './store/fleet-store.ts';

/** How long the dashboard waits for the fleet to confirm a pause or resume before saying it did not happen. */
export const CONFIRM_MS = 5000;
/** States in which a device is running and can be paused. */
const PAUSABLE = new Set<DeviceState>([
  'idle',
  'connecting',
  'tls-handshake',
  'mqtt-connect',
  'online',
  'backing-off',
]);

export interface ActionHooks {
  /** Select this device (the newest added one), so its handshake is on screen. */
  select?: (id: string) => void;
}

function failure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function attempt(
  store: FleetStore,
  start: string,
  work: () => Promise<string>,
  id?: string,
): Promise<void> {
  store.note(start, 'info', id);
  try {
    store.note(await work(), 'info', id);
  } catch (error) {
    store.note(`${start.replace(/…$/, '')} failed: ${failure(error)}`, 'error', id);
  }
}

export function runAction(
  action: Action,
  store: FleetStore,
  controls: FleetControls,
  hooks: ActionHooks = {},
): void {
  switch (action.type) {
    case 'quit':
      store.note('stopping the fleet and the broker…');
      void controls.quit();
      return;
    case 'notice':
      store.note(action.text, 'warn');
      return;
    case 'add-devices': {
      const { profile, count } = action;
      const what = count === 1 ? `a ${profile} sensor` : `${count} ${profile} sensors`;
      void attempt(store, `adding ${what}…`, async () => {
        const ids = await controls.addDevices(profile, count);
        const last = ids.at(-1);
        if (last) hooks.select?.(last);
        return ids.length === 1
          ? `added ${ids[0]} (${profile})`
          : `added ${ids.length} ${profile} sensors: ${ids[0]} … ${last}`;
      });
      return;
    }
    case 'add-rogue':
      void attempt(store, `adding a rogue (${action.kind})…`, async () => {
        const id = await controls.addRogue(action.kind);
        hooks.select?.(id);
        return `added rogue ${id} and selected it: watch its handshake`;
      });
      return;
    case 'revoke':
      void attempt(
        store,
        `revoking ${action.id}'s certificate…`,
        async () => {
          await controls.revoke(action.id);
          store.markRevoked(action.id);
          return `revoked ${action.id}: the broker reloads its CRL and cuts the session`;
        },
        action.id,
      );
      return;
    case 'toggle-pause':
      togglePause(action.id, store, controls);
      return;
    case 'remove':
      void attempt(
        store,
        `removing ${action.id}…`,
        async () => {
          await controls.remove(action.id);
          const gone = await store.waitFor(() => !store.devices.has(action.id), CONFIRM_MS);
          if (!gone) throw new Error(`${action.id} did not stop within ${CONFIRM_MS / 1000} s`);
          return `removed ${action.id}`;
        },
        action.id,
      );
      return;
    case 'command': {
      const device = store.devices.get(action.id);
      if (device?.external) {
        store.note(
          `${action.id} is an external client: send it commands from its own side`,
          'warn',
          action.id,
        );
        return;
      }
      if (device?.state !== 'online') {
        const state = device ? device.state : 'gone';
        store.note(
          `${action.id} is not online (${state}): a command cannot reach it; nothing sent`,
          'warn',
          action.id,
        );
        return;
      }
      void attempt(
        store,
        `sending "${action.command}" to ${action.id}…`,
        async () => {
          await controls.sendCommand(action.id, action.command);
          return `sent "${action.command}" to ${action.id} (the broker took it); its reply shows in the log`;
        },
        action.id,
      );
      return;
    }
  }
}

function togglePause(id: string, store: FleetStore, controls: FleetControls): void {
  const device = store.devices.get(id);
  if (!device) return;
  if (device.external) {
    store.note(`${id} is an external client: the dashboard cannot pause it`, 'warn', id);
    return;
  }
  const paused = device.state === 'paused';
  if (!paused && !PAUSABLE.has(device.state)) {
    store.note(`${id} is not running (${device.state}): there is nothing to pause`, 'warn', id);
    return;
  }
  void attempt(
    store,
    `${paused ? 'resuming' : 'pausing'} ${id}…`,
    async () => {
      await controls.setPaused(id, !paused);
      const done = await store.waitFor(
        () => (store.devices.get(id)?.state === 'paused') !== paused,
        CONFIRM_MS,
      );
      if (!done) throw new Error(`${id} did not report it within ${CONFIRM_MS / 1000} s`);
      return `${id} ${paused ? 'resumed' : 'paused'}`;
    },
    id,
  );
}
