/**
 * Turns a fleet plan ("20 climate sensors, an expired rogue, a wildcard snoop") into DeviceSpecs, issuing the
 * identities it needs through the PKI in one batch (kept in the state dir, so the next run reuses them).
 */
import { ensureIdentities, pkiLayout, rogueCredential } from '../pki/index.ts';
import type { KeyType } from '../pki/types.ts';
import { UserError } from '../core/user-error.ts';
import type { DeviceProfile } from './events.ts';
import { DEVICE_PROFILES, type FaultConfig, PROFILE_ID_PREFIX } from './models/index.ts';
import {
  type BehaviourRogueKind,
  isBehaviourRogue,
  isCredentialRogue,
  parseRogueKinds,
} from '../core/rogues.ts';
import { claimSpecs } from './claim-plan.ts';
import { type BrokerAddress, DEFAULT_INTERVAL_MS, type DeviceSpec } from './spec.ts';

export interface FleetPlan {
  stateDir: string;
  broker: BrokerAddress;
  /** Every node of a broker cluster, `broker` first: devices fail over between them (DeviceSpec.brokers). */
  brokers?: BrokerAddress[];
  /** Root CA file the devices trust for the broker (default: our PKI's root). */
  ca?: string;
  count: number;
  profiles?: DeviceProfile[];
  rogues?: string[];
  /** Where `impostor-broker` devices connect instead (the parent starts that server). */
  impostorBroker?: BrokerAddress;
  intervalMs?: number;
  seed?: string;
  faults?: FaultConfig;
  keyType?: KeyType;
  /** Lifetime of the devices' certificates in ms: issued afresh for this run (default: reuse, 365 days). */
  validityMs?: number;
  /** Renew certificates over MQTT before they expire (default true). */
  rotate?: boolean;
  /** Renew when this fraction of the lifetime remains (default 0.2). */
  renewBefore?: number;
  /** Provision the `count` devices from this claim (`pki issue --claim NAME`) instead of issuing them. */
  claim?: string;
  /** MQTT protocol version of every device (default 5). */
  protocolVersion?: 4 | 5;
  /** First number of the device ids (sensor-001…); lets a running fleet add more without clashes. */
  firstNumber?: number;
}

export function deviceId(profile: DeviceProfile, number: number): string {
  return `${PROFILE_ID_PREFIX[profile]}-${String(number).padStart(3, '0')}`;
}

export function parseProfiles(values: string[] | undefined): DeviceProfile[] {
  const list = (values ?? [])
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
  for (const profile of list) {
    if (!(DEVICE_PROFILES as readonly string[]).includes(profile)) {
      throw new UserError(
        'unknown device profile',
        `"${profile}"`,
        `Profiles: ${DEVICE_PROFILES.join(', ')}.`,
      );
    }
  }
  return list.length > 0 ? (list as DeviceProfile[]) : ['climate'];
}

export async function planFleet(plan: FleetPlan): Promise<DeviceSpec[]> {
  const layout = pkiLayout(plan.stateDir);
  const ca = plan.ca ?? layout.rootCert;
  const profiles = plan.profiles?.length ? plan.profiles : (['climate'] as DeviceProfile[]);
  const rogues = parseRogueKinds(plan.rogues ?? []);
  const base = (id: string, profile: DeviceProfile) => ({
    id,
    profile,
    clientId: id,
    broker: plan.broker,
    ...(plan.brokers && plan.brokers.length > 1 && { brokers: plan.brokers }),
    intervalMs: plan.intervalMs ?? DEFAULT_INTERVAL_MS,
    seed: `${plan.seed ?? 'certfleet'}:${id}`,
    ...(plan.faults && { faults: plan.faults }),
    ...(plan.rotate === false && { rotate: false }),
    ...(plan.renewBefore !== undefined && { renewBefore: plan.renewBefore }),
    ...(plan.protocolVersion !== undefined && { protocolVersion: plan.protocolVersion }),
  });

  const first = plan.firstNumber ?? 1;
  const sensors = Array.from({ length: plan.count }, (_, index) => {
    const profile = profiles[index % profiles.length] as DeviceProfile;
    return { id: deviceId(profile, first + index), profile };
  });
  // Behaviour rogues and the impostor's victim hold valid identities named inside the policy's patterns.
  const seen = new Map<string, number>();
  const numbered = (prefix: string) => {
    const next = (seen.get(prefix) ?? 0) + 1;
    seen.set(prefix, next);
    return `${prefix}${String(next).padStart(2, '0')}`;
  };
  const behaviourIds = rogues.map((kind) =>
    isBehaviourRogue(kind) || kind === 'impostor-broker'
      ? numbered(kind === 'impostor-broker' ? 'sensor-i' : 'sensor-r')
      : undefined,
  );
  const byClaim = plan.claim ? await claimSpecs(plan.stateDir, plan.claim, sensors, ca, base) : undefined;
  const validIds = [
    ...(byClaim ? [] : sensors.map((sensor) => sensor.id)),
    ...behaviourIds.filter((id) => id !== undefined),
  ];
  const identities = await ensureIdentities(plan.stateDir, validIds, {
    keyType: plan.keyType ?? 'ec',
    ...(plan.validityMs !== undefined && { validityMs: plan.validityMs }),
  });
  const pathsOf = new Map(identities.map((identity) => [identity.id, identity.paths]));
  const credentialsOf = (id: string) => {
    const paths = pathsOf.get(id);
    if (!paths) throw new Error(`identity ${id} was not issued`);
    return { chain: paths.chain, key: paths.key, ca };
  };

  const specs: DeviceSpec[] =
    byClaim ??
    sensors.map(({ id, profile }) => ({
      ...base(id, profile),
      kind: profile,
      rogue: false,
      credentials: credentialsOf(id),
    }));
  const victim = sensors[0]?.id ?? deviceId('climate', 1);
  const credentialCounts = new Map<string, number>();
  for (const [index, kind] of rogues.entries()) {
    if (isCredentialRogue(kind)) {
      const count = (credentialCounts.get(kind) ?? 0) + 1;
      credentialCounts.set(kind, count);
      const credential = await rogueCredential(plan.stateDir, kind);
      const id = count === 1 ? `rogue-${kind}` : `rogue-${kind}-${count}`;
      specs.push({
        ...base(id, 'climate'),
        kind,
        rogue: true,
        credentials: credential ? { chain: credential.paths.chain, key: credential.paths.key, ca } : { ca },
      });
      continue;
    }
    const id = behaviourIds[index] as string;
    if (kind === 'impostor-broker') {
      if (!plan.impostorBroker)
        throw new Error('an impostor-broker device needs the impostor broker address');
      const { brokers: _cluster, ...single } = base(id, 'climate'); // only the impostor: no fail-over to the real one
      specs.push({
        ...single,
        kind,
        rogue: true,
        broker: plan.impostorBroker,
        credentials: credentialsOf(id),
      });
      continue;
    }
    const behaviour = kind as BehaviourRogueKind;
    specs.push({
      ...base(id, 'climate'),
      kind,
      rogue: true,
      behaviour,
      ...(behaviour === 'clientid-spoof' && { clientId: victim }),
      ...(behaviour !== 'wildcard-snoop' && { victim }),
      credentials: credentialsOf(id),
    });
  }
  return specs.map(spreadOverNodes);
}

/**
 * Devices of a cluster start on different nodes: each one's list of nodes is rotated so that its first is chosen by
 * its id (the number in it, else a hash) — the same device lands on the same node in every plan, and `sensor-001`…
 * `sensor-00N` take the N nodes in turn. Fail-over then walks the rest of the list.
 */
function spreadOverNodes(spec: DeviceSpec): DeviceSpec {
  const nodes = spec.brokers;
  if (!nodes || nodes.length < 2) return spec;
  const number = /(\d+)$/.exec(spec.id)?.[1];
  let index = number === undefined ? fnv1a(spec.id) : Number(number) - 1;
  index = ((index % nodes.length) + nodes.length) % nodes.length;
  const rotated = [...nodes.slice(index), ...nodes.slice(0, index)];
  return { ...spec, broker: rotated[0]!, brokers: rotated };
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
