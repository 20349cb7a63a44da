import { UserError } from '../core/user-error.ts';

/** Ids become the certificate CN, a directory name and an MQTT client id: keep them to a safe alphabet. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const RESERVED_IDS = new Set(['server', 'dashboard']);

export function validateDeviceId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new UserError(
      'invalid device id',
      `'${id}' must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`,
      'Example: certfleet pki issue sensor-001',
    );
  }
  if (id.startsWith('rogue-')) {
    throw new UserError(
      'invalid device id',
      `'${id}' starts with 'rogue-', which is kept for the rogue kit`,
      'Use `certfleet pki rogue` for rogue credentials.',
    );
  }
}
