/** What `npm start` runs: a few sensors of every profile and two rogues that fail in different places. */
import type { DeviceProfile } from '../../devices/events.ts';
import type { RogueKind } from '../../core/rogues.ts';

export const DEMO_FLEET: {
  sensors: number;
  profiles: DeviceProfile[];
  rogues: RogueKind[];
  intervalMs: number;
} = {
  sensors: 8,
  profiles: ['climate', 'tracker', 'meter', 'door'],
  // One refused in the handshake (step 5), one refused at CONNECT (step 6).
  rogues: ['revoked', 'clientid-spoof'],
  intervalMs: 2000,
};
