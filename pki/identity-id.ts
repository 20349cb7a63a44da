import { UserError } from '../core/user-error.ts';

/** Device ids become the certificate CN, a directory name, an MQTT client id and a topic level: a safe alphabet. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/**
 * Identity names (`pki issue`) are broader: any CN a real MQTT client might use as its client id, such as the
 * Paho conformance suite's `clean retained`. Inner spaces are allowed; still no '/', wildcards, quotes or control
 * characters, since the name is also a directory name and may be substituted into a topic ({cn}).
 */
const IDENTITY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._ -]{0,62}[A-Za-z0-9._-])?$/;

/**
 * Ids the store itself uses: the broker's and the dashboard's identities (their certificates carry serverAuth or
 * are granted the audit feed) and the two CA ids `pki show` answers to. A device by one of these names would take
 * over or shadow that role, so they are refused for devices, in any letter case (a case-insensitive file system
 * would put `Server` in the directory of `server`).
 */
export const RESERVED_IDS: ReadonlySet<string> = new Set(['server', 'dashboard', 'root-ca', 'issuing-ca']);

export function isReservedId(id: string): boolean {
  return RESERVED_IDS.has(id.toLowerCase());
}

export function validateDeviceId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new UserError(
      'invalid device id',
      `'${id}' must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`,
      'Example: certfleet pki issue sensor-001',
    );
  }
  refuseKeptNames(id);
}

/** For identities issued by name (`pki issue`): device ids, plus names with inner spaces. */
export function validateIdentityName(id: string): void {
  if (!IDENTITY_PATTERN.test(id)) {
    throw new UserError(
      'invalid identity name',
      `'${id}' must be 1-64 characters of letters, digits, spaces, '.', '_' or '-', starting with a letter or ` +
        'digit and not ending with a space',
      'Examples: certfleet pki issue sensor-001; certfleet pki issue "clean retained"',
    );
  }
  refuseKeptNames(id);
}

function refuseKeptNames(id: string): void {
  if (id.toLowerCase().startsWith('rogue-')) {
    throw new UserError(
      'invalid device id',
      `'${id}' starts with 'rogue-', which is kept for the rogue kit`,
      'Use `certfleet pki rogue` for rogue credentials.',
    );
  }
  if (isReservedId(id)) {
    const name = id.toLowerCase();
    throw new UserError(
      'invalid device id',
      `'${id}' is reserved for ${name.endsWith('-ca') ? 'the certificate authority' : `the ${name} identity made by \`pki init\``}; --force does not change an identity's role`,
      `Pick another name, e.g. ${name}-device-1; \`certfleet pki init --force\` re-creates the CAs, server and dashboard.`,
    );
  }
}
