/**
 * The check scenario format (YAML), validated with zod: which devices and rogues to run against a broker, what each
 * must come to, and behaviour checks. This schema is the contract; `certfleet check` without --scenario runs
 * builtin.ts, written in the same terms.
 *
 * ```yaml
 * version: 1
 * settle: 10s                 # how long a connection may take to reach its verdict (default 10s)
 * witness: dashboard          # an identity that may read every device topic: it sees whether a publish got through
 * victim: sensor-001          # whose topics the behaviour rogues reach for (default: the first device)
 * devices:
 *   - count: 3                # sensor-001…003 (or `id: meter-007`), issued by our CA
 *     profile: climate        # climate | tracker | meter | door
 *     expect: online          # default online
 * rogues:
 *   - kind: expired           # any rogue kind (certfleet pki rogue), behaviour rogues included
 *     expect: rejected        # default rejected; `online` if your broker is meant to let it in
 *     reason: EXPIRED         # optional: a reason code or a list of them
 *     step: client-verified   # optional: the ladder step (name or number 1-7)
 * behaviour:
 *   - as: sensor-002
 *     publish: devices/sensor-001/telemetry
 *     expect: deny            # grant | deny
 *   - as: sensor-002
 *     subscribe: ["#"]        # granted only if a sample message (the victim's telemetry) really arrives
 *     expect: deny
 *   - as: sensor-002
 *     subscribe: devices/sensor-002/commands/#
 *     sample: devices/sensor-002/commands/ping   # published by the witness (or `sampleFrom: <id>`)
 *     expect: grant
 *   - revoke: sensor-900      # connects, is revoked, and its open session must end…
 *     within: 5s              # …within this time
 *   - expire: sensor-901      # gets a certificate valid for `validFor`, connects, and must be refused after
 *     validFor: 5s
 * ```
 */
import { z } from 'zod';
import { isReason, type Reason, REASONS } from '../../core/reasons.ts';
import { LADDER_STEPS, type LadderStepName } from '../events.ts';
import { DEVICE_PROFILES } from '../models/index.ts';
import { isRogueKind, ROGUE_KINDS } from '../../core/rogues.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** "10s", "500ms", "2m" or a number of seconds → milliseconds (at most 10 minutes). */
const duration = z.union([z.number(), z.string()]).transform((value, context) => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(String(value));
  const ms = match ? Math.round(Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1_000)) : Number.NaN;
  if (!(ms > 0 && ms <= 600_000)) {
    context.addIssue({
      code: 'custom',
      message: `"${value}" is not a duration from 1ms to 10m (e.g. 5s, 500ms)`,
    });
    return z.NEVER;
  }
  return ms;
});

const reason = z.string().refine(isReason, {
  message: `unknown reason code; one of ${Object.keys(REASONS).join(', ')}`,
});
const reasons = z
  .union([reason, z.array(reason).min(1)])
  .transform((value): Reason[] => (Array.isArray(value) ? value : [value]) as Reason[]);

const step = z
  .union([z.enum(LADDER_STEPS), z.number().int().min(1).max(LADDER_STEPS.length)])
  .transform((value): LadderStepName => (typeof value === 'number' ? LADDER_STEPS[value - 1]! : value));

const identityId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'an identity id: letters, digits, . _ - (at most 64)');

const connectionExpectation = {
  reason: reasons.optional(),
  step: step.optional(),
};

const deviceEntry = z
  .strictObject({
    id: identityId.optional(),
    count: z.number().int().min(1).max(1_000).optional(),
    profile: z.enum(DEVICE_PROFILES as unknown as [string, ...string[]]).default('climate'),
    expect: z.enum(['online', 'rejected']).default('online'),
    ...connectionExpectation,
  })
  .refine((entry) => (entry.id === undefined) !== (entry.count === undefined), {
    message: 'give either `id` or `count`',
  });

const rogueEntry = z.strictObject({
  kind: z.string().refine((kind) => isRogueKind(kind), {
    message: `unknown rogue kind; one of ${ROGUE_KINDS.join(', ')}`,
  }),
  expect: z.enum(['online', 'rejected']).default('rejected'),
  ...connectionExpectation,
});

const topic = z.string().min(1).max(65_535);

const behaviourEntry = z
  .strictObject({
    name: z.string().min(1).optional(),
    as: identityId.optional(),
    publish: topic.optional(),
    subscribe: z.union([topic, z.array(topic).min(1)]).optional(),
    /** For `subscribe`: a topic the filter covers, published to see whether the subscriber really receives it… */
    sample: topic.optional(),
    /** …by this identity (default: the witness for a `sample` given here, else the victim on its telemetry). */
    sampleFrom: identityId.optional(),
    revoke: identityId.optional(),
    within: duration.optional(),
    expire: identityId.optional(),
    validFor: duration.optional(),
    expect: z.enum(['grant', 'deny', 'cut', 'refused']).optional(),
  })
  .superRefine((entry, context) => {
    const actions = (['publish', 'subscribe', 'revoke', 'expire'] as const).filter(
      (key) => entry[key] !== undefined,
    );
    if (actions.length !== 1) {
      context.addIssue({ code: 'custom', message: 'give exactly one of publish, subscribe, revoke, expire' });
      return;
    }
    const action = actions[0]!;
    if ((action === 'publish' || action === 'subscribe') && entry.as === undefined)
      context.addIssue({ code: 'custom', message: `${action} needs \`as\`: the identity that tries it` });
    const allowed = {
      publish: ['grant', 'deny'],
      subscribe: ['grant', 'deny'],
      revoke: ['cut'],
      expire: ['refused'],
    };
    if (entry.expect !== undefined && !allowed[action].includes(entry.expect))
      context.addIssue({
        code: 'custom',
        path: ['expect'],
        message: `a ${action} check expects ${allowed[action].join(' or ')}`,
      });
  });

export const scenarioSchema = z.strictObject({
  version: z.literal(1, { message: 'only version 1 is known' }),
  name: z.string().min(1).optional(),
  settle: duration.default(10_000),
  witness: identityId.default('dashboard'),
  victim: identityId.optional(),
  devices: z.array(deviceEntry).default([]),
  rogues: z.array(rogueEntry).default([]),
  behaviour: z.array(behaviourEntry).default([]),
});

export type ScenarioFile = z.infer<typeof scenarioSchema>;
export type DeviceEntry = ScenarioFile['devices'][number];
export type RogueEntry = ScenarioFile['rogues'][number];
export type BehaviourEntry = ScenarioFile['behaviour'][number];
