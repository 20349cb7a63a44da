/**
 * FleetControls that exist before the fleet does: the dashboard opens while the broker and the fleet are still
 * starting, and an action taken meanwhile waits for them (the footer already says it is running).
 */
import type { DeviceProfile } from '../../devices/events.ts';
import type { RogueKind } from '../../core/rogues.ts';
import type { ConnectionInfo } from '../connect-commands.ts';
import type { CertificateSummary, FleetControls } from '../controls.ts';

export class DeferredControls implements FleetControls {
  constructor(
    private readonly ready: Promise<FleetControls>,
    private readonly quitNow: () => Promise<void>,
  ) {
    ready.catch(() => undefined); // a failed start-up is reported by whoever started it
  }

  addDevices(profile: DeviceProfile, count: number): Promise<string[]> {
    return this.ready.then((controls) => controls.addDevices(profile, count));
  }
  addRogue(kind: RogueKind): Promise<string> {
    return this.ready.then((controls) => controls.addRogue(kind));
  }
  remove(id: string): Promise<void> {
    return this.ready.then((controls) => controls.remove(id));
  }
  setPaused(id: string, paused: boolean): Promise<void> {
    return this.ready.then((controls) => controls.setPaused(id, paused));
  }
  sendCommand(id: string, command: string): Promise<void> {
    return this.ready.then((controls) => controls.sendCommand(id, command));
  }
  revoke(id: string): Promise<void> {
    return this.ready.then((controls) => controls.revoke(id));
  }
  certificate(id: string): Promise<CertificateSummary | null> {
    return this.ready.then((controls) => controls.certificate(id));
  }
  connection(id: string): Promise<ConnectionInfo | null> {
    return this.ready.then((controls) => controls.connection(id));
  }
  /** Quitting never waits for start-up. */
  quit(): Promise<void> {
    return this.quitNow();
  }
}
