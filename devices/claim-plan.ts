/**
 * Devices that start with a shared claim certificate (provisioning by claim): each gets a serial number of its own
 * (random, as a factory would burn in), its id is the claim's CN template with that serial (`sensor-{serial}` →
 * `sensor-3f9a1c2e`), and it asks the broker for that identity on first connect.
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../core/user-error.ts';
import { CLAIM_PREFIX, readClaim, showIdentity } from '../pki/index.ts';
import type { DeviceSpec } from './spec.ts';

export async function claimSpecs(
  stateDir: string,
  claimName: string,
  sensors: ReadonlyArray<{ profile: DeviceSpec['profile'] }>,
  ca: string,
  base: (id: string, profile: DeviceSpec['profile']) => Omit<DeviceSpec, 'kind' | 'rogue' | 'credentials'>,
): Promise<DeviceSpec[]> {
  const cn = `${CLAIM_PREFIX}${claimName}`;
  const claim = await readClaim(stateDir, cn);
  if (!claim) {
    throw new UserError(
      `no claim '${claimName}'`,
      `there is no claim certificate of that name in ${stateDir}`,
      `Make one: certfleet pki issue --claim ${claimName} --quota 50`,
    );
  }
  const { paths } = await showIdentity(stateDir, cn);
  return sensors.map(({ profile }) => {
    const serial = randomBytes(4).toString('hex');
    const id = claim.template.replace('{serial}', serial);
    return {
      ...base(id, profile),
      kind: profile,
      rogue: false,
      credentials: { chain: paths.chain, key: paths.key, ca },
      claim: { cn, ref: serial, requestedCn: id },
    };
  });
}
