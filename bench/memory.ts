/**
 * Suite `memory`: what one held connection costs the server, at 1,000 and 3,000 connections — certfleet next to
 * Mosquitto and to the bare `node:tls` reference (bench/servers/bare-tls.ts: Node + OpenSSL with no broker), all
 * measured in the same run. Each connection is an idle device session (bench/loadgen/hold.ts: own identity, last
 * will, command subscription, retained status), made by a light load generator rather than the simulator, so only
 * the server side is measured. Memory per connection = (server RSS − its RSS before any connection) / connections;
 * the marginal figure counts only the connections added since the previous stage (free of fixed costs).
 * Each repetition starts a fresh server; the order alternates; tables show medians.
 * Stage figures are read 3 s after a stage is connected: for a Node server that still includes the young generation
 * V8 grew during the connection storm (~30 MiB). The `steady` figure is read after the last stage has been idle for
 * 90 s more — held idle devices, once V8's memory reducer has given that back (it did after ~1 min on this machine).
 */
import type { HoldParams, HoldResult } from './loadgen/hold.ts';
import { benchPki } from './lib/bench-pki.ts';
import { type BrokerName, startBrokerByName } from './lib/brokers.ts';
import { alternatingOrder, medianOf } from './lib/compare.ts';
import { loadAverage, residentKiB } from './lib/process-stats.ts';
import { runLoadgen } from './lib/run-loadgen.ts';
import { ratio } from './lib/stats.ts';

export interface MemorySample {
  broker: BrokerName;
  connections: number;
  kiBPerConnection: number;
  marginalKiBPerConnection: number;
  rssMiB: number;
  load1: number;
  /** Last stage only: KiB per connection after `steadyMs` of idleness (NaN on the other stages). */
  steadyKiBPerConnection: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STEADY_MS = 90_000;

export async function benchMemory(options: { quick: boolean; brokers?: BrokerName[]; stages?: number[] }) {
  const { quick } = options;
  const repetitions = quick ? 1 : 2;
  const stages = options.stages ?? (quick ? [200, 600] : [1_000, 3_000]);
  const names = options.brokers ?? (['certfleet', 'mosquitto', 'bare-tls'] as BrokerName[]);
  const pki = await benchPki({ ec: stages.at(-1)!, rsa: 16 });
  const samples: MemorySample[] = [];
  const failures: Record<string, unknown>[] = [];
  for (let repetition = 0; repetition < repetitions; repetition++) {
    for (const name of alternatingOrder(names, repetition)) {
      const broker = await startBrokerByName(pki.stateDir, name);
      try {
        // The base is the fresh server idle: a Node server holds the young generation its start-up grew (~15 MiB)
        // until the memory reducer runs, and a base read before that shrank moved every figure by it.
        await sleep(quick ? 1_000 : STEADY_MS);
        const base = residentKiB(broker.pid);
        let previous = { connections: 0, rss: base };
        const params: HoldParams = {
          port: broker.port,
          ca: pki.ca,
          identities: pki.ec.slice(0, stages.at(-1)),
          stages,
          concurrency: 16,
          settleMs: quick ? 1_000 : 3_000,
          steadyMs: quick ? 0 : STEADY_MS,
          probe: name === 'bare-tls' ? 'connack' : broker.probe,
        };
        const result = await runLoadgen<HoldResult>('hold', params, {
          onEvent: (message) => {
            if (message.event === 'steady') {
              const last = samples.at(-1);
              if (last?.broker === name) {
                last.steadyKiBPerConnection =
                  (residentKiB(broker.pid) - base) / Math.max(1, message.connections as number);
              }
              return;
            }
            if (message.event !== 'stage') return;
            const connections = message.connections as number;
            const rss = residentKiB(broker.pid);
            samples.push({
              broker: name,
              connections,
              kiBPerConnection: (rss - base) / Math.max(1, connections),
              marginalKiBPerConnection:
                (rss - previous.rss) / Math.max(1, connections - previous.connections),
              rssMiB: rss / 1024,
              load1: loadAverage(),
              steadyKiBPerConnection: Number.NaN,
            });
            previous = { connections, rss };
          },
        });
        if (result.failures > 0) failures.push({ broker: name, repetition, ...result });
      } finally {
        await broker.stop();
      }
    }
  }
  const runs = stages.flatMap((count) =>
    names.map((name) =>
      medianOf(samples.filter((s) => s.broker === name && Math.abs(s.connections - count) <= count * 0.01)),
    ),
  );
  const pick = (name: BrokerName, count: number, field: keyof MemorySample) =>
    Number(runs.find((r) => r.broker === name && Math.abs(r.connections - count) <= count * 0.01)?.[field]);
  const last = stages.at(-1)!;
  const ratios = Object.fromEntries(
    [
      [
        `${last} after ${STEADY_MS / 1000} s idle: certfleet/mosquitto KiB per connection`,
        ratio(
          pick('certfleet', last, 'steadyKiBPerConnection'),
          pick('mosquitto', last, 'steadyKiBPerConnection'),
        ),
      ],
      [
        `${last} after ${STEADY_MS / 1000} s idle: certfleet/bare node:tls KiB per connection`,
        ratio(
          pick('certfleet', last, 'steadyKiBPerConnection'),
          pick('bare-tls', last, 'steadyKiBPerConnection'),
        ),
      ],
    ].concat(
      stages.flatMap((count) => [
        [
          `${count}: certfleet/mosquitto KiB per connection`,
          ratio(pick('certfleet', count, 'kiBPerConnection'), pick('mosquitto', count, 'kiBPerConnection')),
        ],
        [
          `${count}: certfleet/bare node:tls KiB per connection`,
          ratio(pick('certfleet', count, 'kiBPerConnection'), pick('bare-tls', count, 'kiBPerConnection')),
        ],
      ]),
    ),
  );
  return {
    runs,
    ratios,
    failures,
    method: {
      repetitions,
      stages,
      steadyMs: quick ? 0 : STEADY_MS,
      note: 'idle device sessions from bench/loadgen/hold.ts (EC identities, will, subscription, retained status); fresh server per repetition; medians over alternating runs; stage figures 3 s after each stage, steady figure after the last stage idled steadyMs more',
    },
    samples,
  };
}
