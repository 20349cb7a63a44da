/**
 * Behaviour checks: what a connected identity may do. A broker may refuse an attempt in the open (SUBACK 0x80, a
 * disconnect) or silently (MQTT 3.1.1 cannot say "denied" in a PUBACK: Mosquitto acknowledges and drops). So every
 * attempt is also watched from the other side: a witness subscribed to the topic sees whether a publish got through,
 * and a victim's sample message shows whether a granted subscription really delivers other devices' messages.
 */
import { randomBytes } from 'node:crypto';
import type { Explainer } from '../explain.ts';
import type { DeviceSpec } from '../spec.ts';
import { type ProbeConnection, type ProbeResult, probeConnect } from './probe.ts';
import type { Observation } from './types.ts';

/** How long a message may take to reach the witness before we call it dropped. */
const DELIVERY_WAIT_MS = 1_500;

export interface BehaviourContext {
  /** The spec of an identity issued for the check (valid certificate, client id = CN). */
  specFor(id: string): DeviceSpec;
  witnessId: string;
  /** The witness identity's connection (one, shared: a second one would take its session over), or why there is none. */
  witness(): Promise<ProbeConnection | string>;
  explain?: Explainer;
  connectTimeoutMs: number;
}

const nonce = () => `certfleet-check ${randomBytes(8).toString('hex')}`;

/** A failed connection as an observation, with the broker's reason when its audit has one. */
export async function rejection(
  result: Extract<ProbeResult, { ok: false }>,
  id: string,
  explain?: Explainer,
): Promise<Observation> {
  const { reason, step, detail } = result.diagnosis;
  const brokerDecided = !['tcp-connect', 'server-verified'].includes(step) && result.localPort !== undefined;
  const explained =
    brokerDecided && explain
      ? await explain({
          type: 'rejected',
          id,
          reason,
          step,
          detail,
          ...(result.localPort !== undefined && { localPort: result.localPort }),
          attemptStartedAt: result.attempt.startedAt,
          at: Date.now(),
        }).catch(() => undefined)
      : undefined;
  return explained
    ? { outcome: 'rejected', ...explained, explainedBy: 'broker-audit' }
    : { outcome: 'rejected', reason, step, detail };
}

async function connectAs(
  context: BehaviourContext,
  spec: DeviceSpec,
): Promise<{ connection: ProbeConnection } | { refused: Observation }> {
  const result = await probeConnect(spec, context.connectTimeoutMs);
  if (result.ok) return { connection: result.connection };
  const observed = await rejection(result, spec.id, context.explain);
  return { refused: { ...observed, detail: `could not connect to try it: ${observed.detail}` } };
}

/** `as` publishes into `topic`: grant when the message got through, deny when the broker refused or dropped it. */
export async function publishAttempt(
  context: BehaviourContext,
  as: string,
  topic: string,
): Promise<Observation> {
  const witness = await context.witness();
  let watching = typeof witness !== 'string';
  let unwatched = typeof witness === 'string' ? witness : '';
  if (typeof witness !== 'string') {
    const refused = await witness.subscribe([topic]);
    if (refused === null || refused.length > 0) {
      watching = false;
      unwatched = `the witness ${witness.spec.id} may not subscribe to "${topic}"`;
    }
  }
  const actor = await connectAs(context, context.specFor(as));
  if ('refused' in actor) return actor.refused;
  const payload = nonce();
  try {
    const acked = await actor.connection.publish(topic, payload);
    const delivered =
      watching && typeof witness !== 'string'
        ? await witness.waitForPayload(payload, DELIVERY_WAIT_MS)
        : false;
    if (!delivered) await actor.connection.waitForEnd(acked ? 300 : DELIVERY_WAIT_MS);
    const ended = actor.connection.ended;
    if (delivered) {
      return {
        outcome: 'grant',
        detail: `the message reached ${(witness as ProbeConnection).spec.id} on "${topic}"`,
      };
    }
    if (ended) {
      return {
        outcome: 'deny',
        reason: 'PUBLISH_DENIED',
        step: 'messages-flow',
        detail: `the broker closed the connection after the publish to "${topic}"`,
      };
    }
    if (!acked) {
      return {
        outcome: 'deny',
        reason: 'PUBLISH_DENIED',
        step: 'messages-flow',
        detail: `no PUBACK for the publish to "${topic}"`,
      };
    }
    if (watching) {
      return {
        outcome: 'deny',
        reason: 'PUBLISH_DENIED',
        step: 'messages-flow',
        detail: `PUBACK, but the message never reached a subscriber of "${topic}": the broker dropped it`,
      };
    }
    return { outcome: 'grant', detail: `PUBACK for "${topic}" (not confirmed: ${unwatched})` };
  } finally {
    await actor.connection.close();
  }
}

/**
 * `as` subscribes to `filters`: deny when the broker refuses every filter (SUBACK 0x80) or hangs up; otherwise the
 * victim publishes a sample on `sample` and the subscription counts as granted only if it delivers it.
 */
export async function subscribeAttempt(
  context: BehaviourContext,
  as: string,
  filters: string[],
  sample: { from: string; topic: string },
): Promise<Observation> {
  const actor = await connectAs(context, context.specFor(as));
  if ('refused' in actor) return actor.refused;
  const list = filters.map((filter) => `"${filter}"`).join(', ');
  try {
    const refused = await actor.connection.subscribe(filters);
    if (actor.connection.ended || refused === null) {
      return {
        outcome: 'deny',
        reason: 'SUBSCRIBE_DENIED',
        step: 'messages-flow',
        detail: actor.connection.ended
          ? `the broker closed the connection on the subscription to ${list}`
          : `no SUBACK for ${list}`,
      };
    }
    if (refused.length === filters.length) {
      return {
        outcome: 'deny',
        reason: 'SUBSCRIBE_DENIED',
        step: 'messages-flow',
        detail: `SUBACK 0x80 (refused) for ${list}`,
      };
    }
    const granted = filters.filter((filter) => !refused.includes(filter));
    const publisher = await sampler(context, sample.from);
    if (typeof publisher === 'string') {
      return {
        outcome: 'grant',
        detail: `SUBACK granted ${granted.join(', ')} (${sample.from} could not connect to publish a sample: ${publisher})`,
      };
    }
    const payload = nonce();
    try {
      await publisher.publish(sample.topic, payload);
      const delivered = await actor.connection.waitForPayload(payload, DELIVERY_WAIT_MS);
      if (delivered) {
        return {
          outcome: 'grant',
          detail: `SUBACK granted ${granted.map((f) => `"${f}"`).join(', ')} and ${sample.from}'s message on "${sample.topic}" was delivered`,
        };
      }
      return {
        outcome: 'deny',
        reason: 'SUBSCRIBE_DENIED',
        step: 'messages-flow',
        detail: `SUBACK granted ${granted.map((f) => `"${f}"`).join(', ')}, but ${sample.from}'s message on "${sample.topic}" was not delivered (filtered per message)`,
      };
    } finally {
      if (publisher.spec.id !== context.witnessId) await publisher.close();
    }
  } finally {
    await actor.connection.close();
  }
}

/** Who publishes the sample: the shared witness connection, or a connection of its own. */
async function sampler(context: BehaviourContext, from: string): Promise<ProbeConnection | string> {
  if (from === context.witnessId) return context.witness();
  const result = await probeConnect(context.specFor(from), context.connectTimeoutMs);
  return result.ok ? result.connection : result.diagnosis.detail;
}

/** `as` connects with the client id of `victim`: a broker that binds the client id to the certificate refuses it. */
export async function spoofAttempt(
  context: BehaviourContext,
  as: string,
  victim: string,
): Promise<Observation> {
  const spec = { ...context.specFor(as), clientId: victim };
  const result = await probeConnect(spec, context.connectTimeoutMs);
  if (!result.ok) return rejection(result, as, context.explain);
  await result.connection.close();
  return { outcome: 'online', detail: `CONNACK 0 for client id "${victim}" with ${as}'s certificate` };
}
