/** Plain-words labels of the seven handshake steps (DESIGN.md), shared by the detail pane and the event log. */
import { LADDER_STEPS, type LadderStepName } from '../devices/events.ts';

export const STEP_LABELS: Record<LadderStepName, string> = {
  'tcp-connect': 'client connects (TCP)',
  'server-certificate': 'server presents its certificate',
  'server-verified': 'client verifies the server',
  'client-certificate': 'client presents its certificate',
  'client-verified': 'server verifies the client',
  'access-granted': 'server grants access (CONNACK, policy)',
  'messages-flow': 'messages flow (each publish/subscribe authorized)',
};

/** 1-based position of a step on the ladder. */
export function stepNumber(step: LadderStepName): number {
  return LADDER_STEPS.indexOf(step) + 1;
}
