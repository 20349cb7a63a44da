/**
 * Claim certificates, for provisioning by claim (as AWS IoT fleet provisioning or EST do it): a device leaves the
 * factory with a shared claim certificate whose only right is to enroll, and obtains its own identity over MQTT.
 * A claim `NAME` is the identity `claim-NAME` plus `pki/claims/NAME.json`: how many identities it may obtain
 * (quota), which CNs it may request (template, e.g. `sensor-{serial}`), and their lifetime. The broker's enrollment
 * service reads this file and enforces it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { UserError } from '../core/user-error.ts';
import { issueIdentities } from './issue.ts';
import { pkiLayout } from './layout.ts';
import type { IdentityInfo } from './types.ts';

export const CLAIM_PREFIX = 'claim-';
export const SERIAL_PLACEHOLDER = '{serial}';
/** What `{serial}` stands for in a requested CN: a device's serial number, as a topic level can carry it. */
const SERIAL_PATTERN = '[A-Za-z0-9][A-Za-z0-9_-]{0,31}';

export interface ClaimConfig {
  name: string;
  /** The claim certificate's CN: `claim-NAME`. */
  cn: string;
  /** How many identities this claim may obtain, ever. */
  quota: number;
  /** The CN a device may request, `{serial}` standing for its serial number. */
  template: string;
  /** Lifetime of the identities it obtains, ms. */
  identityValidityMs: number;
}

export function claimsDir(stateDir: string): string {
  return join(pkiLayout(stateDir).pkiDir, 'claims');
}

export function claimNameOfCn(cn: string): string | null {
  return cn.startsWith(CLAIM_PREFIX) ? cn.slice(CLAIM_PREFIX.length) : null;
}

/** A predicate for CNs the template allows. */
export function templateMatcher(template: string): (cn: string) => boolean {
  const [before, after] = template.split(SERIAL_PLACEHOLDER) as [string, string];
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${literal(before)}${SERIAL_PATTERN}${literal(after)}$`);
  return (cn) => pattern.test(cn);
}

/** The claim config of a claim CN, or null when the CN is not a claim. */
export async function readClaim(stateDir: string, cn: string): Promise<ClaimConfig | null> {
  const name = claimNameOfCn(cn);
  if (name === null || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/.test(name)) return null;
  try {
    return JSON.parse(await readFile(join(claimsDir(stateDir), `${name}.json`), 'utf8')) as ClaimConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export async function issueClaim(
  stateDir: string,
  name: string,
  options: {
    quota?: number;
    template?: string;
    identityValidityMs?: number;
    validityMs?: number;
    force?: boolean;
  } = {},
): Promise<{ claim: ClaimConfig; identity: IdentityInfo }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/.test(name)) {
    throw new UserError(
      'invalid claim name',
      `'${name}' must be 1-48 letters, digits, '_' or '-'`,
      'Example: certfleet pki issue --claim factory-a',
    );
  }
  const template = options.template ?? 'sensor-{serial}';
  if (
    template.split(SERIAL_PLACEHOLDER).length !== 2 ||
    /[/+#{}\s]/.test(template.replace(SERIAL_PLACEHOLDER, ''))
  ) {
    throw new UserError(
      'invalid --template',
      `'${template}' must hold {serial} exactly once and no '/', '+', '#', braces or spaces`,
      'Example: --template "sensor-{serial}"',
    );
  }
  const claim: ClaimConfig = {
    name,
    cn: `${CLAIM_PREFIX}${name}`,
    quota: options.quota ?? 100,
    template,
    identityValidityMs: options.identityValidityMs ?? 30 * 86_400_000,
  };
  const [identity] = await issueIdentities(stateDir, [claim.cn], {
    ...(options.validityMs !== undefined && { validityMs: options.validityMs }),
    ...(options.force && { force: true }),
  });
  await writeFileAtomic(
    join(claimsDir(stateDir), `${name}.json`),
    `${JSON.stringify(claim, null, 2)}\n`,
    0o644,
  );
  return { claim, identity: identity! };
}

/** Is this CN a claim certificate's? Synchronous, for the broker's CONNECT decision (one stat, claim CNs only). */
export function isClaimCn(stateDir: string, cn: string): boolean {
  const name = claimNameOfCn(cn);
  return (
    name !== null &&
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/.test(name) &&
    existsSync(join(claimsDir(stateDir), `${name}.json`))
  );
}
