/**
 * `certfleet check`: runs a scenario against a broker and judges every outcome against what the scenario expects.
 * Preflight first (can the run happen at all?), then the connection checks as a fleet, then the behaviour and
 * lifecycle checks one by one (they watch each other's messages, so they never overlap).
 */
import { ensureIdentities, type IdentityInfo, pkiLayout, showIdentity } from '../../pki/index.ts';
import { ensureIdentitiesWithSan, type IdentitySource } from '../../pki/identity-san.ts';
import type { DeviceProfile } from '../events.ts';
import type { Explainer } from '../explain.ts';
import { startImpostorBroker } from '../impostor-broker.ts';
import { deviceId, planFleet } from '../plan.ts';
import { isBehaviourRogue } from '../../core/rogues.ts';
import type { BrokerAddress, DeviceSpec } from '../spec.ts';
import { topics } from '../topics.ts';
import { type BehaviourContext, publishAttempt, spoofAttempt, subscribeAttempt } from './behaviour.ts';
import { runFleetPhase } from './fleet-phase.ts';
import { expiryRefused, revocationCut } from './lifecycle.ts';
import { preflight, type PreflightResult } from './preflight.ts';
import type { ProbeConnection } from './probe.ts';
import { probeConnect } from './probe.ts';
import type { BehaviourEntry } from './scenario-schema.ts';
import type { Scenario } from './scenario-load.ts';
import {
  CheckImpossible,
  type CheckResult,
  type CheckReport,
  type Expectation,
  type Observation,
} from './types.ts';
import { judge } from './judge.ts';

export interface CheckOptions {
  stateDir: string;
  broker: BrokerAddress;
  /** How the report names the broker. */
  brokerName: string;
  /** The CA that signed the broker's certificate (default: our root). */
  ca?: string;
  scenario: Scenario;
  explain?: Explainer;
  /** Credentials a broker may demand on top of the certificate (never printed). */
  username?: string;
  password?: string;
  /** Why some checks cannot run here (e.g. the CA key is not held), by rogue kind, or for every valid identity. */
  unavailable?: { validIdentities?: string; kinds?: Record<string, string> };
  /** Where the broker takes a device's identity from: the CN (default), or a SAN our certificates then carry too. */
  identityFrom?: IdentitySource;
  /** Credentials to use instead of the rogue kit's, by rogue kind (e.g. an impostor of an imported CA). */
  credentialOverrides?: Partial<Record<string, { chain: string; key: string }>>;
  workers?: number;
  /** Each result as soon as it is known (the CLI prints the report card live). */
  onResult?: (result: CheckResult) => void;
}

const INTERVAL_MS = 500;

interface Planned {
  name: string;
  group: CheckResult['group'];
  kind: string;
  expected: Expectation;
  skip?: string;
  run: () => Promise<Observation>;
}

export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const started = Date.now();
  const { scenario } = options;
  const layout = pkiLayout(options.stateDir);
  const ca = options.ca ?? layout.rootCert;
  const connectTimeoutMs = Math.min(scenario.settle, 10_000);
  const auth = {
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
  };
  const noValid = options.unavailable?.validIdentities;
  const kindSkip = (kind: string) => options.unavailable?.kinds?.[kind];

  // Every valid identity the scenario names, issued in one batch (kept in the state dir for the next run).
  const devices = expandDevices(scenario.devices);
  const victim = scenario.victim ?? devices[0]?.id ?? 'sensor-001';
  const behaviourRogues = scenario.rogues.filter((entry) => isBehaviourRogue(entry.kind));
  const actors = behaviourRogues.map((_, index) => `sensor-r${String(index + 1).padStart(2, '0')}`);
  const named = scenario.behaviour.flatMap((entry) =>
    [entry.as, entry.sampleFrom].filter((id) => id !== undefined),
  );
  const paths = new Map<string, IdentityInfo['paths']>();
  if (!noValid) {
    const ids = [...new Set([...devices.map((device) => device.id), victim, ...actors, ...named])];
    const source = options.identityFrom ?? 'cn';
    const issued =
      source === 'cn'
        ? await ensureIdentities(options.stateDir, ids)
        : await ensureIdentitiesWithSan(options.stateDir, ids, source);
    for (const identity of issued) paths.set(identity.id, identity.paths);
    paths.set(scenario.witness, (await witnessIdentity(options.stateDir, scenario.witness)).paths);
  }
  const specOf = (
    identity: { id: string; paths: IdentityInfo['paths'] },
    profile: DeviceProfile = 'climate',
  ): DeviceSpec => ({
    id: identity.id,
    kind: profile,
    rogue: false,
    profile,
    clientId: identity.id,
    broker: options.broker,
    credentials: { chain: identity.paths.chain, key: identity.paths.key, ca },
    intervalMs: INTERVAL_MS,
    seed: `check:${identity.id}`,
    connectTimeoutMs,
    ...auth,
  });
  const specFor = (id: string) => {
    const found = paths.get(id);
    if (!found) throw new Error(`bug: identity ${id} was not issued for the check`);
    return specOf({ id, paths: found });
  };

  // 1. Can the run happen at all? (exit code 2 otherwise)
  const preflightSpec = paths.has(scenario.witness)
    ? specFor(scenario.witness)
    : { ...specOf({ id: 'preflight', paths: { cert: '', key: '', chain: '', ca } }), credentials: { ca } };
  const before: PreflightResult = await preflight({ ...preflightSpec, rogue: !paths.has(scenario.witness) });

  // 2. Connection checks: valid devices and credential rogues, as one fleet.
  const fleetRogues = scenario.rogues.filter(
    (entry) => !isBehaviourRogue(entry.kind) && !kindSkip(entry.kind),
  );
  const impostor = fleetRogues.some((entry) => entry.kind === 'impostor-broker')
    ? await startImpostorBroker(options.stateDir)
    : undefined;
  let observations = new Map<string, Observation>();
  const rogueIds: string[] = [];
  const fleetStarted = Date.now();
  try {
    const rogueSpecs = await planFleet({
      stateDir: options.stateDir,
      broker: options.broker,
      ca,
      count: 0,
      rogues: fleetRogues.map((entry) => entry.kind),
      intervalMs: INTERVAL_MS,
      ...(impostor && { impostorBroker: impostor.address }),
    });
    rogueIds.push(...rogueSpecs.map((spec) => spec.id));
    const withOverride = (spec: DeviceSpec): DeviceSpec => {
      const override = options.credentialOverrides?.[spec.kind];
      return override ? { ...spec, credentials: { ...override, ca: spec.credentials.ca } } : spec;
    };
    const deviceSpecs = noValid
      ? []
      : devices.map((device) => specOf({ id: device.id, paths: paths.get(device.id)! }, device.profile));
    observations = await runFleetPhase({
      specs: [
        ...deviceSpecs,
        ...rogueSpecs.map((spec) => ({ ...withOverride(spec), connectTimeoutMs, ...auth })),
      ],
      settleMs: scenario.settle,
      fleet: {
        connectRatePerSecond: 0,
        ...(options.workers && { workers: options.workers }),
        ...(options.explain && { explain: options.explain }),
      },
    });
  } finally {
    await impostor?.close();
  }
  const fleetMs = Date.now() - fleetStarted;

  // 3. Everything in scenario order: results of the fleet, then behaviour and lifecycle checks run one by one.
  let witness: Promise<ProbeConnection | string> | undefined;
  const context: BehaviourContext = {
    specFor,
    witnessId: scenario.witness,
    connectTimeoutMs,
    ...(options.explain && { explain: options.explain }),
    witness: () => {
      witness ??= probeConnect(specFor(scenario.witness), connectTimeoutMs).then((result) =>
        result.ok
          ? result.connection
          : `the witness ${scenario.witness} could not connect: ${result.diagnosis.detail}`,
      );
      return witness;
    },
  };
  const lifecycle = {
    stateDir: options.stateDir,
    specOf: (identity: IdentityInfo) => specOf(identity),
    connectTimeoutMs,
    ...(options.explain && { explain: options.explain }),
  };
  const fromFleet = (id: string) => async () =>
    observations.get(id) ?? {
      outcome: 'rejected' as const,
      reason: 'TIMEOUT',
      detail: 'no result from the fleet',
    };

  const planned: Planned[] = [];
  for (const device of devices) {
    planned.push({
      name: `device ${device.id}`,
      group: 'device',
      kind: device.profile,
      expected: expectation(device.entry.expect, device.entry),
      ...(noValid && { skip: noValid }),
      run: fromFleet(device.id),
    });
  }
  let fleetRogue = 0;
  let behaviourRogue = 0;
  const rogueCounts = new Map<string, number>();
  for (const entry of scenario.rogues) {
    const count = (rogueCounts.get(entry.kind) ?? 0) + 1;
    rogueCounts.set(entry.kind, count);
    const name = `rogue ${entry.kind}${count > 1 ? ` #${count}` : ''}`;
    const behaviour = isBehaviourRogue(entry.kind);
    const skip = behaviour ? (noValid ?? kindSkip(entry.kind)) : kindSkip(entry.kind);
    let run: Planned['run'];
    if (behaviour) {
      const actor = actors[behaviourRogue++]!;
      run = async () => asConnection(await behaviourRogueRun(entry.kind, actor, victim, context));
    } else {
      run = fromFleet(skip ? '' : rogueIds[fleetRogue++]!);
    }
    planned.push({
      name,
      group: 'rogue',
      kind: entry.kind,
      expected: expectation(entry.expect, entry),
      ...(skip && { skip }),
      run,
    });
  }
  for (const entry of scenario.behaviour)
    planned.push(planBehaviour(entry, { victim, witness: scenario.witness }, context, lifecycle, noValid));

  const results: CheckResult[] = [];
  try {
    for (const check of planned) {
      const checkStarted = Date.now();
      let result: CheckResult;
      if (check.skip) {
        result = { ...base(check), status: 'skipped', why: check.skip, durationMs: 0 };
      } else {
        const observed = await check.run();
        const verdict = judge(check.expected, observed);
        // Fleet checks ran together: each reports the fleet's time.
        const durationMs =
          check.group !== 'behaviour' && !isBehaviourRogue(check.kind) ? fleetMs : Date.now() - checkStarted;
        result = { ...base(check), observed, ...verdict, durationMs };
      }
      results.push(result);
      options.onResult?.(result);
    }
  } finally {
    const open = await witness;
    if (open && typeof open !== 'string') await open.close();
  }

  refuseIfEveryHandshakeFailed(before, results, options);
  const totals = {
    checks: results.length,
    passed: results.filter((result) => result.status === 'pass').length,
    failed: results.filter((result) => result.status === 'fail').length,
    skipped: results.filter((result) => result.status === 'skipped').length,
  };
  return {
    broker: options.brokerName,
    scenario: scenario.name ? `${scenario.name} (${scenario.source})` : scenario.source,
    identityFrom: options.identityFrom ?? 'cn',
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results,
    totals,
    exitCode: totals.failed > 0 ? 1 : 0,
  };
}

function base(check: Planned): Pick<CheckResult, 'name' | 'group' | 'kind' | 'expected'> {
  return { name: check.name, group: check.group, kind: check.kind, expected: check.expected };
}

function expectation(
  outcome: 'online' | 'rejected',
  entry: { reason?: Expectation['reasons']; step?: Expectation['step'] },
): Expectation {
  return {
    outcome,
    ...(entry.reason && { reasons: entry.reason }),
    ...(entry.step && { step: entry.step }),
  };
}

/** Scenario device entries as ids: `count` entries numbered per profile (sensor-001…), `id` entries as written. */
function expandDevices(entries: Scenario['devices']) {
  const next = new Map<string, number>();
  return entries.flatMap((entry) => {
    const profile = entry.profile as DeviceProfile;
    if (entry.id) return [{ id: entry.id, profile, entry }];
    return Array.from({ length: entry.count ?? 1 }, () => {
      const number = (next.get(profile) ?? 0) + 1;
      next.set(profile, number);
      return { id: deviceId(profile, number), profile, entry };
    });
  });
}

async function witnessIdentity(stateDir: string, id: string): Promise<IdentityInfo> {
  try {
    return await showIdentity(stateDir, id);
  } catch {
    const [identity] = await ensureIdentities(stateDir, [id]);
    return identity!;
  }
}

/** A behaviour rogue in the terms of the rogue catalogue: it gets in (online) or it is refused (rejected). */
function asConnection(observed: Observation): Observation {
  if (observed.outcome === 'grant') return { ...observed, outcome: 'online' };
  if (observed.outcome === 'deny') return { ...observed, outcome: 'rejected' };
  return observed;
}

function behaviourRogueRun(
  kind: string,
  actor: string,
  victim: string,
  context: BehaviourContext,
): Promise<Observation> {
  const victimTelemetry = topics.telemetry(victim);
  switch (kind) {
    case 'topic-overreach':
      return publishAttempt(context, actor, victimTelemetry);
    case 'wildcard-snoop':
      return subscribeAttempt(context, actor, ['#', victimTelemetry], {
        from: victim,
        topic: victimTelemetry,
      });
    default:
      return spoofAttempt(context, actor, victim);
  }
}

function planBehaviour(
  entry: BehaviourEntry,
  { victim, witness }: { victim: string; witness: string },
  context: BehaviourContext,
  lifecycle: Parameters<typeof revocationCut>[0],
  noValid: string | undefined,
): Planned {
  const skip = noValid ? { skip: noValid } : {};
  if (entry.publish !== undefined) {
    const topic = entry.publish;
    return {
      name: entry.name ?? `publish ${entry.as} → ${topic}`,
      group: 'behaviour',
      kind: 'publish',
      expected: { outcome: entry.expect === 'grant' ? 'grant' : 'deny' },
      ...skip,
      run: () => publishAttempt(context, entry.as!, topic),
    };
  }
  if (entry.subscribe !== undefined) {
    const filters = Array.isArray(entry.subscribe) ? entry.subscribe : [entry.subscribe];
    const sample = entry.sample ?? topics.telemetry(victim);
    const from = entry.sampleFrom ?? (entry.sample ? witness : victim);
    return {
      name: entry.name ?? `subscribe ${entry.as} → ${filters.join(', ')}`,
      group: 'behaviour',
      kind: 'subscribe',
      expected: { outcome: entry.expect === 'grant' ? 'grant' : 'deny' },
      ...skip,
      run: () => subscribeAttempt(context, entry.as!, filters, { from, topic: sample }),
    };
  }
  if (entry.revoke !== undefined) {
    const withinMs = entry.within ?? 5_000;
    return {
      name: entry.name ?? `revoke ${entry.revoke} cuts its session within ${withinMs / 1000} s`,
      group: 'behaviour',
      kind: 'revoke',
      expected: { outcome: 'cut', withinMs },
      ...skip,
      run: () => revocationCut(lifecycle, entry.revoke!, withinMs),
    };
  }
  const validForMs = entry.validFor ?? 5_000;
  return {
    name: entry.name ?? `expire ${entry.expire} after ${validForMs / 1000} s`,
    group: 'behaviour',
    kind: 'expire',
    expected: { outcome: 'refused' },
    ...skip,
    run: () => expiryRefused(lifecycle, entry.expire!, validForMs),
  };
}

/**
 * "TLS failed for every device": our own certificate was refused in the preflight and no valid device got past the
 * handshake either — the broker does not trust our CA (or is not MQTT). Nothing the scenario says can be judged.
 */
function refuseIfEveryHandshakeFailed(
  before: PreflightResult,
  results: CheckResult[],
  options: CheckOptions,
): void {
  if (before.mqtt) return;
  const valid = results.filter((result) => result.group === 'device' && result.observed);
  const handshake = [
    'tcp-connect',
    'server-certificate',
    'server-verified',
    'client-certificate',
    'client-verified',
  ];
  if (valid.length === 0) return;
  if (
    valid.every(
      (result) => result.observed?.outcome === 'rejected' && handshake.includes(result.observed.step ?? ''),
    )
  ) {
    throw new CheckImpossible(
      'TLS failed for every device',
      `the broker at ${options.brokerName} refused every valid certificate (${before.detail})`,
      `Does the broker trust the CA that issued our devices (${pkiLayout(options.stateDir).rootCert})? ` +
        'Import yours with `certfleet pki init --ca-cert FILE --ca-key FILE`, or add ours to the broker.',
    );
  }
}
