/**
 * Suite `fleet-memory`: what one simulated device costs the simulator, next to what the libraries under it cost
 * alone, measured in the same run against the same broker (certfleet's, in its own process):
 * the fleet (worker threads, as the dashboard runs it), the same devices in one thread (its JavaScript heap is read
 * too), a bare MQTT.js client per device, and a bare node:tls socket per device (the platform's floor). Each
 * subject runs in a fresh process of its own (bench/loadgen/device-hold.ts) that brings devices online in two
 * stages; the figure that counts is the marginal one — (RSS at stage 2 − RSS at stage 1) / devices added — which
 * is free of every fixed cost (workers, modules, the shared TLS contexts). Repetitions alternate the order.
 * Much faster than `scale` (1,000 / 3,000 devices by default, `--quick` 300 / 900).
 */
import type { DeviceHoldParams, DeviceHoldResult, DeviceHoldSubject } from './loadgen/device-hold.ts';
import { benchPki } from './lib/bench-pki.ts';
import { startBrokerByName } from './lib/brokers.ts';
import { alternatingOrder } from './lib/compare.ts';
import { loadAverage, residentKiB } from './lib/process-stats.ts';
import { runLoadgen } from './lib/run-loadgen.ts';
import { median } from './lib/stats.ts';

export interface FleetMemorySample {
  subject: DeviceHoldSubject;
  repetition: number;
  devices: number;
  online: number;
  rssMiB: number;
  /** (RSS − RSS before any device) / online. */
  kiBPerDevice: number;
  /** (RSS − RSS at the previous stage) / devices added since: the cost of one more device. */
  marginalKiBPerDevice: number;
  /** The same for the JavaScript heap of the subject's main thread (after a full GC): `devices` subject only. */
  marginalHeapKiBPerDevice: number;
  load1: number;
}

export interface FleetMemoryOptions {
  quick: boolean;
  subjects?: DeviceHoldSubject[];
  stages?: number[];
  repetitions?: number;
  /** New connections per second (default 150; lower it on a busy machine, where the broker falls behind). */
  connectRatePerSecond?: number;
  /** For the references: bench/loadgen/device-hold.ts `maxSendFragment`. */
  maxSendFragment?: number;
}

const SUBJECTS: DeviceHoldSubject[] = ['fleet', 'devices', 'mqttjs', 'tls'];

/**
 * V8's young generation grows to 3 × 16 MiB per thread when it likes: a fixed cost that, left free, moved the
 * marginal figure of 1,000 bare sockets by ±30 KiB per socket between identical runs (30.0–60.6). Pinned at 1 MiB
 * semi-spaces in the measured process (its workers inherit the flag), the same runs agree within ±3 KiB.
 */
const YOUNG_GENERATION_PINNED = ['--max-semi-space-size=1'];

export async function benchFleetMemory(options: FleetMemoryOptions) {
  const { quick } = options;
  const stages = options.stages ?? (quick ? [300, 900] : [1_000, 3_000]);
  const subjects = options.subjects ?? SUBJECTS;
  const repetitions = options.repetitions ?? (quick ? 1 : 2);
  const pki = await benchPki({ ec: stages.at(-1)!, rsa: 0 });
  const broker = await startBrokerByName(pki.stateDir, 'certfleet');
  const samples: FleetMemorySample[] = [];
  const failures: Array<Record<string, unknown>> = [];
  try {
    for (let repetition = 0; repetition < repetitions; repetition++) {
      for (const subject of alternatingOrder(subjects, repetition)) {
        const params: DeviceHoldParams = {
          subject,
          port: broker.port,
          ca: pki.ca,
          identities: pki.ec.slice(0, stages.at(-1)),
          stages,
          connectRatePerSecond: options.connectRatePerSecond ?? 150,
          settleMs: quick ? 3_000 : 5_000,
          intervalMs: 10_000,
          ...(options.maxSendFragment && { maxSendFragment: options.maxSendFragment }),
        };
        let base: { rss: number; heap: number } | undefined;
        let previous: { online: number; rss: number; heap: number } | undefined;
        const result = await runLoadgen<DeviceHoldResult>(
          'device-hold',
          params,
          {
            onEvent: (message) => {
              if (message.event !== 'stage') return;
              const rss = residentKiB(Number(message.pid));
              const heap = Number(message.heapUsedKiB);
              const online = Number(message.online);
              if (!base) {
                base = { rss, heap };
                previous = { online: 0, rss, heap };
                return;
              }
              const added = Math.max(1, online - previous!.online);
              samples.push({
                subject,
                repetition,
                devices: Number(message.devices),
                online,
                rssMiB: rss / 1024,
                kiBPerDevice: (rss - base.rss) / Math.max(1, online),
                marginalKiBPerDevice: (rss - previous!.rss) / added,
                marginalHeapKiBPerDevice: (heap - previous!.heap) / added,
                load1: loadAverage(),
              });
              process.stderr.write(`fleet-memory: ${JSON.stringify(samples.at(-1))}\n`);
              previous = { online, rss, heap };
            },
          },
          YOUNG_GENERATION_PINNED,
        );
        if (result.failures > 0) failures.push({ subject, repetition, ...result });
      }
    }
  } finally {
    await broker.stop();
  }
  const last = stages.at(-1)!;
  const runs = subjects.flatMap((subject) =>
    stages.map((devices) => {
      const of = samples.filter((s) => s.subject === subject && s.devices === devices);
      const pick = (field: keyof FleetMemorySample) => median(of.map((s) => Number(s[field])));
      return {
        subject,
        devices,
        online: pick('online'),
        kiBPerDevice: pick('kiBPerDevice'),
        marginalKiBPerDevice: pick('marginalKiBPerDevice'),
        marginalHeapKiBPerDevice: subject === 'devices' ? pick('marginalHeapKiBPerDevice') : Number.NaN,
        rssMiB: pick('rssMiB'),
        load1: pick('load1'),
      };
    }),
  );
  const marginal = (subject: DeviceHoldSubject) =>
    runs.find((run) => run.subject === subject && run.devices === last)?.marginalKiBPerDevice ?? Number.NaN;
  return {
    runs,
    marginalKiBPerDevice: Object.fromEntries(subjects.map((subject) => [subject, marginal(subject)])),
    split: {
      'fleet − bare MQTT.js (ours)': marginal('fleet') - marginal('mqttjs'),
      'bare MQTT.js − bare node:tls (MQTT.js)': marginal('mqttjs') - marginal('tls'),
      'bare node:tls (the platform)': marginal('tls'),
    },
    failures,
    method: {
      stages,
      repetitions,
      note: 'marginal = RSS growth between the two stages / devices added; each subject in a fresh process with --max-semi-space-size=1; EC identities; certfleet broker in its own process; devices publish 1 msg / 10 s; references idle after their retained status',
    },
    samples,
  };
}
