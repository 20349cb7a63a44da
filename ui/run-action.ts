/** Carries out an action from the keyboard on the fleet, telling the user what is happening and how it ended. */
import type { FleetControls } from './controls.ts';
import type { Action } from './keys.ts';
import type { FleetStore } from './store/fleet-store.ts';

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

export function runAction(action: Action, store: FleetStore, controls: FleetControls): void {
  switch (action.type) {
    case 'quit':
      store.note('stopping the fleet and the broker…');
      void controls.quit();
      return;
    case 'notice':
      store.note(action.text, 'warn');
      return;
    case 'add-device':
      void attempt(store, `adding a ${action.profile} sensor…`, async () => {
        const id = await controls.addDevice(action.profile);
        return `added ${id} (${action.profile})`;
      });
      return;
    case 'add-rogue':
      void attempt(store, `adding a rogue (${action.kind})…`, async () => {
        const id = await controls.addRogue(action.kind);
        return `added rogue ${id}: watch its handshake in the detail pane`;
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
    case 'toggle-pause': {
      const paused = store.devices.get(action.id)?.state === 'paused';
      void attempt(
        store,
        `${paused ? 'resuming' : 'pausing'} ${action.id}…`,
        async () => {
          await controls.setPaused(action.id, !paused);
          return `${action.id} ${paused ? 'resumed' : 'paused'}`;
        },
        action.id,
      );
      return;
    }
    case 'remove':
      void attempt(
        store,
        `removing ${action.id}…`,
        async () => {
          await controls.remove(action.id);
          return `removed ${action.id}`;
        },
        action.id,
      );
      return;
    case 'command':
      void attempt(
        store,
        `sending "${action.command}" to ${action.id}…`,
        async () => {
          await controls.sendCommand(action.id, action.command);
          return `sent "${action.command}" to ${action.id}`;
        },
        action.id,
      );
      return;
  }
}
