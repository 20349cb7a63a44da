/**
 * Suite `fleet`: how many simulated devices this machine holds online at 1 message / 10 s each, what one online
 * device costs in memory on each side (fleet process with its workers; broker process), and how long 1,000 EC devices
 * take to come online. The broker runs in its own process (bench/servers/certfleet-broker.ts, or Mosquitto).
 *
 * Method: issue the identities first (timed apart), start the broker, start the fleet's workers and take both
 * processes' resident memory as the baseline; then add devices in stages and wait until
 * every device of the stage reports `online` (connection rate capped, 100/s by default); after a short settle, memory per device = (RSS - baseline) / online.
 * Finally hold the fleet for a while and count acknowledged messages and devices still online.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { DeviceEvent } from '../devices/events.ts';
import { Fleet } from '../devices/fleet.ts';
import { planFleet } from '../devices/plan.ts';
import type { DeviceSpec } from '../devices/spec.ts';
import { initPki } from '../pki/index.ts';
import { type BrokerName, startBrokerByName } from './lib/brokers.ts';
import { loadAverage, residentKiB } from './lib/process-stats.ts';

export interface FleetStage {
  devices: number;
  online: number;
  /** Seconds from adding this stage's devices until all of them were online. */
  secondsToOnline: number;
  fleetKiBPerDevice: number;
  brokerKiBPerDevice: number;
  /** Memory of the devices added since the previous stage only: free of fixed costs and of warm-up garbage. */
  fleetMarginalKiBPerDevice?: number;
  brokerMarginalKiBPerDevice?: number;
  fleetRssMiB: number;
  brokerRssMiB: number;
  /** Longest stall of the fleet's main thread (the one a UI would own) during the stage, ms. */
  mainThreadMaxStallMs: number;
  load1: number;
}

export interface FleetScaleResult {
  broker: BrokerName;
  workers: number;
  connectRatePerSecond: number;
  intervalMs: number;
  issuedPerSecond: number;
  secondsFor1000Online: number;
  maxOnline: number;
  hold: { seconds: number; onlineAtEnd: number; ackedPerSecond: number; expectedPerSecond: number };
  /** Devices not online at the end, by state and reason (e.g. "backing-off", "rejected CLOSED_BY_BROKER"). */
  notOnline: Record<string, number>;
  runs: FleetStage[];
}

export interface FleetScaleOptions {
  quick: boolean;
  broker?: BrokerName;
  stages?: number[];
  holdSeconds?: number;
  workers?: number;
  /** How long a stage may take to bring all its devices online (default 300 s). */
  stageTimeoutSeconds?: number;
  /** Fleet-wide connection-rate cap (default 100/s): an uncapped storm makes a busy broker time connections out. */
  connectRatePerSecond?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchFleetScale(options: FleetScaleOptions): Promise<FleetScaleResult> {
  const stages = options.stages ?? (options.quick ? [1_000] : [1_000, 2_500, 5_000, 7_500, 10_000]);
  const holdSeconds = options.holdSeconds ?? (options.quick ? 20 : 60);
  const intervalMs = 10_000;
  const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-bench-fleet-'));
  try {
    await initPki(stateDir);
    const total = stages.at(-1) ?? 1_000;
    const issueStarted = performance.now();
    const broker = await startBrokerByName(stateDir, options.broker ?? 'certfleet');
    try {
      const specs = await planFleet({
        stateDir,
        broker: { host: '127.0.0.1', port: broker.port },
        count: total,
        profiles: ['climate', 'tracker', 'meter', 'door'],
        intervalMs,
        keyType: 'ec',
      });
      const issuedPerSecond = total / ((performance.now() - issueStarted) / 1000);
      return await measure(broker, specs, stages, holdSeconds, intervalMs, issuedPerSecond, options);
    } finally {
      await broker.stop();
    }
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function measure(
  broker: { name: BrokerName; pid: number },
  specs: DeviceSpec[],
  stages: number[],
  holdSeconds: number,
  intervalMs: number,
  issuedPerSecond: number,
  options: FleetScaleOptions,
): Promise<FleetScaleResult> {
  const { workers } = options;
  const connectRatePerSecond = options.connectRatePerSecond ?? 100;
  const fleet = new Fleet({ connectRatePerSecond, ...(workers && { workers }) });
  const online = new Set<string>();
  let waiter: { count: number; resolve: () => void } | undefined;
  fleet.subscribe((events: readonly DeviceEvent[]) => {
    for (const event of events) {
      if (event.type !== 'state') continue;
      if (event.state === 'online') online.add(event.id);
      else online.delete(event.id);
    }
    if (waiter && online.size >= waiter.count) waiter.resolve();
  });
  const untilOnline = (count: number, timeoutMs: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      if (online.size >= count) waiter.resolve();
    });
  try {
    await fleet.ready();
    await sleep(2_000);
    const fleetBase = residentKiB(process.pid);
    const brokerBase = residentKiB(broker.pid);
    const runs: FleetStage[] = [];
    let added = 0;
    for (const target of stages) {
      const stall = monitorEventLoopDelay({ resolution: 10 });
      stall.enable();
      const started = performance.now();
      fleet.add(specs.slice(added, target));
      added = target;
      await untilOnline(target, (options.stageTimeoutSeconds ?? 300) * 1000);
      const secondsToOnline = (performance.now() - started) / 1000;
      await sleep(5_000); // let the handshake garbage go before reading memory
      stall.disable();
      const fleetRss = residentKiB(process.pid);
      const brokerRss = residentKiB(broker.pid);
      const count = Math.max(1, online.size);
      const previous = runs.at(-1);
      const grown = online.size - (previous?.online ?? 0);
      const marginal = previous &&
        grown > 0 && {
          fleetMarginalKiBPerDevice: (fleetRss - previous.fleetRssMiB * 1024) / grown,
          brokerMarginalKiBPerDevice: (brokerRss - previous.brokerRssMiB * 1024) / grown,
        };
      runs.push({
        ...marginal,
        devices: target,
        online: online.size,
        secondsToOnline,
        fleetKiBPerDevice: (fleetRss - fleetBase) / count,
        brokerKiBPerDevice: (brokerRss - brokerBase) / count,
        fleetRssMiB: fleetRss / 1024,
        brokerRssMiB: brokerRss / 1024,
        mainThreadMaxStallMs: stall.max / 1e6,
        load1: loadAverage(),
      });
      process.stderr.write(`fleet bench: ${JSON.stringify(runs.at(-1))}\n`);
      if (online.size < target * 0.99) break; // the machine's limit: no point adding more
    }
    const ackedBefore = sum(await fleet.results());
    const holdStarted = performance.now();
    await sleep(holdSeconds * 1000);
    const finalResults = await fleet.results();
    const ackedAfter = sum(finalResults);
    const seconds = (performance.now() - holdStarted) / 1000;
    const notOnline: Record<string, number> = {};
    for (const result of finalResults) {
      if (result.state === 'online') continue;
      const key = [result.state, result.reason].filter(Boolean).join(' ');
      notOnline[key] = (notOnline[key] ?? 0) + 1;
    }
    return {
      broker: broker.name,
      workers: workers ?? 0,
      connectRatePerSecond,
      intervalMs,
      issuedPerSecond,
      secondsFor1000Online: runs.find((run) => run.devices === 1_000)?.secondsToOnline ?? Number.NaN,
      maxOnline: Math.max(...runs.map((run) => run.online)),
      notOnline,
      hold: {
        seconds,
        onlineAtEnd: online.size,
        ackedPerSecond: (ackedAfter - ackedBefore) / seconds,
        expectedPerSecond: (online.size * 1000) / intervalMs,
      },
      runs,
    };
  } finally {
    await fleet.stop();
  }
}

function sum(results: Array<{ messages: { acked: number } }>): number {
  return results.reduce((total, result) => total + result.messages.acked, 0);
}
