/**
 * The typed contract between the fleet (devices in worker threads) and whoever watches it (the UI, the headless CLI,
 * tests). Everything here is plain data: it crosses worker-thread boundaries by structured clone.
 */
import type { Reason } from '../core/reasons.ts';

/** The seven steps of the mTLS handshake ladder (DESIGN.md), in order. */
export const LADDER_STEPS = [
  'tcp-connect', // 1. client connects (TCP)
  'server-certificate', // 2. server presents its certificate
  'server-verified', // 3. client verifies the server
  'client-certificate', // 4. client presents its certificate
  'client-verified', // 5. server verifies the client
  'access-granted', // 6. server grants access (CONNACK, policy)
  'messages-flow', // 7. messages flow (each publish/subscribe authorized)
] as const;
export type LadderStepName = (typeof LADDER_STEPS)[number];

export type StepStatus = 'pending' | 'ok' | 'failed' | 'skipped';

export interface LadderStep {
  step: LadderStepName;
  status: StepStatus;
  /** Epoch ms when the step completed or failed. */
  at?: number;
  /** Duration of this step in ms. */
  ms?: number;
  /** At a failed step: the reason and the plain words to show. */
  reason?: Reason;
  detail?: string;
}

/** One connection attempt, as the device saw it. */
export interface HandshakeAttempt {
  attempt: number;
  startedAt: number;
  steps: LadderStep[];
  /** Local TCP port of the attempt: joins the device's view with the broker's audit record. */
  localPort?: number;
  tlsVersion?: string;
}

export type DeviceState =
  | 'idle'
  | 'connecting' // TCP
  | 'tls-handshake'
  | 'mqtt-connect'
  | 'online'
  | 'backing-off'
  | 'paused'
  | 'rejected' // terminal, with a reason
  | 'stopped';

/** Which behaviour a device has: a sensor profile, or a rogue kind by its DESIGN.md name. */
export type DeviceProfile = 'climate' | 'tracker' | 'meter' | 'door';
export type BehaviourRogueKind = 'clientid-spoof' | 'topic-overreach' | 'wildcard-snoop';

export interface DeviceDescriptor {
  id: string;
  /** 'climate' etc. for a sensor; the rogue kind name for a rogue. */
  kind: DeviceProfile | string;
  rogue: boolean;
}

/** A device's message counts so far (QoS 1: `acked` = PUBACKs received; `received` = commands received). */
export interface MessageCounters {
  sent: number;
  acked: number;
  received: number;
}

export type DeviceEvent =
  | { type: 'added'; device: DeviceDescriptor; at: number }
  | {
      type: 'state';
      id: string;
      state: DeviceState;
      previous: DeviceState;
      at: number;
      reason?: Reason;
      detail?: string;
      messages?: MessageCounters;
    }
  | { type: 'ladder'; id: string; attempt: HandshakeAttempt; at: number }
  | {
      type: 'telemetry';
      id: string;
      seq: number;
      /** The sensor reading; `fault: 'stuck' | 'spike'` marks an injected fault. */
      reading: Record<string, number | string | boolean>;
      at: number;
      messages?: MessageCounters;
      /** Set when the fleet coalesced several telemetry events of this device into this one (the latest). */
      coalesced?: number;
    }
  | { type: 'command'; id: string; command: string; result: string; at: number }
  | {
      type: 'rejected';
      id: string;
      reason: Reason;
      step: LadderStepName;
      detail: string;
      localPort?: number;
      at: number;
      /**
       * Set when the fleet joined the device's rejection with the broker's audit (same local port): this later event
       * refines the device's own 'rejected' event for the same id (its reason and step win).
       */
      explainedBy?: 'broker-audit';
    }
  | { type: 'error'; id: string; message: string; at: number }
  | { type: 'removed'; id: string; at: number };

export type DeviceEventType = DeviceEvent['type'];
