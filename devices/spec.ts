/**
 * A device, as plain data: what the parent sends to a worker to start one. File paths, never key material, cross the
 * thread boundary.
 */
import type { BackoffOptions } from './backoff.ts';
import type { BehaviourRogueKind } from '../core/rogues.ts';
import type { DeviceProfile } from './events.ts';
import type { FaultConfig } from './models/index.ts';

export interface BrokerAddress {
  host: string;
  port: number;
  /** The name the broker certificate must carry (defaults to host). */
  servername?: string;
}

export interface DeviceCredentialPaths {
  /** What we present: leaf + issuing CA. Absent for the `no-cert` rogue. */
  chain?: string;
  key?: string;
  /** The root we trust for the broker. */
  ca: string;
}

export interface DeviceSpec {
  id: string;
  /** The profile for a sensor, the rogue kind for a rogue. */
  kind: string;
  rogue: boolean;
  profile: DeviceProfile;
  /** The MQTT client id (the certificate CN unless a rogue lies about it). */
  clientId: string;
  broker: BrokerAddress;
  /**
   * Every broker of a cluster, `broker` first: after a failure that is worth retrying, the next attempt goes to the
   * next one (round robin, the backoff still applies), so a device fails over when its node dies.
   */
  brokers?: BrokerAddress[];
  credentials: DeviceCredentialPaths;
  behaviour?: BehaviourRogueKind;
  /** The device whose id or topics a behaviour rogue reaches for. */
  victim?: string;
  intervalMs: number;
  seed: string;
  faults?: FaultConfig;
  keepaliveSeconds?: number;
  /** MQTT protocol version: 5 (default; refusals then carry a reason string) or 4 (MQTT 3.1.1). */
  protocolVersion?: 4 | 5;
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Renew the certificate over MQTT before it expires (default true; `devices run --no-rotate` turns it off). */
  rotate?: boolean;
  /** Renew when this fraction of the certificate's lifetime remains (default 0.2). */
  renewBefore?: number;
  /** What a broker may demand besides the certificate (MQTT CONNECT username/password); never logged. */
  username?: string;
  password?: string;
  /** false: no last will (a check's observer may not publish a status topic). */
  will?: false;
  /**
   * Provisioning by claim: `credentials` are the shared claim certificate's; the device connects as
   * `<claim cn>:<ref>`, asks for `requestedCn` (its `id`), and then runs as that identity.
   */
  claim?: {
    cn: string;
    ref: string;
    requestedCn: string;
    /** Tests and rogue variants: the key the device generates (default ec-p256). */
    keyType?: 'ec-p256' | 'rsa-1024';
  };
}

export const DEFAULT_INTERVAL_MS = 5_000;
