/**
 * What the dashboard can ask of the world. The launcher implements it over the real fleet, broker and PKI; tests
 * pass a fake. Every method may take time (workers, child processes): the UI shows feedback while it runs.
 */
import type { DeviceProfile } from '../devices/events.ts';
import type { IdentityInfo } from '../pki/types.ts';
import type { RogueKind } from '../core/rogues.ts';
import type { ConnectionInfo } from './connect-commands.ts';

export type CertificateSummary = Pick<
  IdentityInfo,
  'commonName' | 'issuer' | 'notBefore' | 'notAfter' | 'keyType' | 'fingerprint256' | 'status' | 'serial'
>;

export interface FleetControls {
  /** Adds `count` sensors of this profile; resolves to their ids. */
  addDevices(profile: DeviceProfile, count: number): Promise<string[]>;
  /** Adds a rogue of this kind; resolves to its id. */
  addRogue(kind: RogueKind): Promise<string>;
  remove(id: string): Promise<void>;
  setPaused(id: string, paused: boolean): Promise<void>;
  /** Resolves once the broker accepted the command for delivery; rejects (saying why) when it cannot be sent. */
  sendCommand(id: string, command: string): Promise<void>;
  /** Revokes the device's certificate (the broker then cuts its session). */
  revoke(id: string): Promise<void>;
  /** The certificate the device presents, or null when it has none. */
  certificate(id: string): Promise<CertificateSummary | null>;
  /** How to connect as this device with mosquitto_pub/sub; null for a client the dashboard did not start. */
  connection(id: string): Promise<ConnectionInfo | null>;
  /** Stops everything the dashboard started; the App calls it on q / Ctrl-C. */
  quit(): Promise<void>;
}
