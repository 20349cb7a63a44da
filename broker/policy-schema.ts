/**
 * The policy file format (YAML), validated with zod. The default file is written by `pki init`
 * (pki/default-policy.ts); this schema is the contract.
 *
 * ```yaml
 * version: 1
 * requireClientIdMatchesCn: true        # optional, default true
 * identities:                           # default deny: a CN no entry matches is refused (UNKNOWN_IDENTITY)
 *   - cn: ["sensor-*", "meter-*"]       # one glob or a list (picomatch); several matching entries add up
 *     publish: ["devices/{cn}/telemetry"]   # topic filters; {cn} is the connecting identity's CN
 *     subscribe: ["devices/{cn}/commands/#"]
 *     deny:                             # optional; overrides the grants of every entry matching the same CN
 *       publish: ["devices/{cn}/telemetry/raw"]
 *       subscribe: ["devices/{cn}/commands/debug/#"]   # a filter reaching into a denied topic is refused whole
 * ```
 */
import { z } from 'zod';
import { topicFilterError } from './topic-filter.ts';

export const CN_PLACEHOLDER = '{cn}';

/** A topic filter as written in the policy: checked with a CN-shaped stand-in for the placeholder. */
const topicFilter = z
  .string()
  .min(1, 'a topic filter must not be empty')
  .superRefine((value, context) => {
    const error = topicFilterError(value.replaceAll(CN_PLACEHOLDER, 'cn'));
    if (error) context.addIssue({ code: 'custom', message: `"${value}": ${error}` });
    const stray = value.replaceAll(CN_PLACEHOLDER, '');
    if (stray.includes('{') || stray.includes('}')) {
      context.addIssue({ code: 'custom', message: `"${value}": the only placeholder is {cn}` });
    }
  });

const publishFilter = topicFilter.refine((value) => !value.startsWith('$'), {
  message: "clients may not publish to '$' topics (they belong to the broker)",
});

const cnPattern = z.string().min(1, 'a CN pattern must not be empty');

/** Deny rules override every grant of the matching identities: `#` minus `test/nosubscribe` is expressible. */
const denySchema = z.strictObject({
  publish: z.array(topicFilter).default([]),
  subscribe: z.array(topicFilter).default([]),
});

export const identityEntrySchema = z.strictObject({
  cn: z.union([cnPattern, z.array(cnPattern).min(1, 'list at least one CN pattern')]),
  publish: z.array(publishFilter).default([]),
  subscribe: z.array(topicFilter).default([]),
  deny: denySchema.default({ publish: [], subscribe: [] }),
});

export const policySchema = z.strictObject({
  version: z.literal(1, { message: 'only version 1 is known' }),
  requireClientIdMatchesCn: z.boolean().default(true),
  identities: z.array(identityEntrySchema),
});

export type PolicyFile = z.infer<typeof policySchema>;
export type IdentityEntry = z.infer<typeof identityEntrySchema>;
