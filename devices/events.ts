/**
 * The typed contract between the fleet (devices in worker threads) and whoever watches it (the UI, the headless CLI,
 * tests). Everything here is plain data: it crosses worker-thread boundaries by structured clone.
 */
import type { Reason } from '../core/reasons.ts';

// The ladder model lives in core/ladder.ts (shared with the broker's side and the dashboard).
export {
  LADDER_STEPS,
  type LadderStepName,
  type StepStatus,
  type LadderStep,
  type HandshakeAttempt,
} from '../core/ladder.ts';
import type { HandshakeAttempt, LadderStepName } from '../core/ladder.ts';

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
      /** On 'online': the validity of the certificate this session uses (epoch ms), for the dashboard's lifetime. */
      certificate?: { notBefore: number; notAfter: number };
      /** On 'online': `host:port` of the broker (cluster node) the session is on. */
      broker?: string;
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
      /**
       * When the refused connection's attempt began (epoch ms): the broker's record of it can be no older. The kernel
       * hands a freed local port to a later connection, so a record of the same port from before is another device's.
       */
      attemptStartedAt?: number;
      /** The broker the refused attempt dialled, `host:port`: of a cluster, only that node's audit can explain it. */
      dialed?: string;
      at: number;
      /**
       * Set when the fleet joined the device's rejection with the broker's audit (same local port): this later event
       * refines the device's own 'rejected' event for the same id (its reason and step win).
       */
      explainedBy?: 'broker-audit';
    }
  | {
      /** The device renewed its certificate over MQTT and reconnected with it (broker/enrollment). */
      type: 'rotated';
      id: string;
      previousSerial: string;
      serial: string;
      /** The new certificate's notAfter, epoch ms. */
      notAfter: number;
      /** The new certificate's notBefore, epoch ms (its whole lifetime: when the dashboard starts warning). */
      notBefore?: number;
      /** Key generation + CSR + the broker's answer, ms. */
      requestMs: number;
      /** From closing the old session to being online again with the new certificate, ms. */
      switchMs: number;
      at: number;
    }
  | {
      /** A device that started with a claim certificate obtained its own identity and now runs as it. */
      type: 'provisioned';
      id: string;
      claim: string;
      serial: string;
      notAfter: number;
      notBefore?: number;
      requestMs: number;
      at: number;
    }
  | { type: 'rotation-failed'; id: string; reason: Reason; detail: string; at: number }
  | { type: 'error'; id: string; message: string; at: number }
  | { type: 'removed'; id: string; at: number };

export type DeviceEventType = DeviceEvent['type'];
