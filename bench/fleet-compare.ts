/**
 * Suite `fleet`: the devices team's fleet-scale measurement (bench/fleet-scale.ts: real simulated devices in
 * worker threads, 1 message / 10 s each) run against certfleet and against Mosquitto, alternating, with the
 * certfleet/Mosquitto ratios of time-to-online and broker memory per connection.
 */
import { benchFleetScale, type FleetScaleResult, type FleetStage } from './fleet-scale.ts';
import type { BrokerName } from './lib/brokers.ts';
import { alternatingOrder, medianOf } from './lib/compare.ts';
import { ratio } from './lib/stats.ts';

type StageSample = FleetStage & { broker: BrokerName };

export async function benchFleetCompare(options: { quick: boolean }) {
  const { quick } = options;
  const repetitions = quick ? 1 : 2;
  const stages = quick ? [200] : [1_000, 3_000];
  const holdSeconds = quick ? 3 : 20;
  const brokers: BrokerName[] = ['certfleet', 'mosquitto'];
  const results: FleetScaleResult[] = [];
  for (let repetition = 0; repetition < repetitions; repetition++) {
    for (const broker of alternatingOrder(brokers, repetition)) {
      results.push(await benchFleetScale({ quick, broker, stages, holdSeconds }));
    }
  }
  const samples: StageSample[] = results.flatMap((result) =>
    result.runs.map((run) => ({ broker: result.broker, ...run })),
  );
  const runs = stages.flatMap((devices) =>
    brokers.map((broker) => medianOf(samples.filter((s) => s.broker === broker && s.devices === devices))),
  );
  const pick = (broker: BrokerName, devices: number, field: keyof FleetStage) =>
    Number(runs.find((r) => r.broker === broker && r.devices === devices)?.[field]);
  const ratios = Object.fromEntries(
    stages.flatMap((devices) => [
      [
        `${devices} devices: certfleet/mosquitto seconds to online`,
        ratio(pick('certfleet', devices, 'secondsToOnline'), pick('mosquitto', devices, 'secondsToOnline')),
      ],
      [
        `${devices} devices: certfleet/mosquitto broker KiB per connection`,
        ratio(
          pick('certfleet', devices, 'brokerKiBPerDevice'),
          pick('mosquitto', devices, 'brokerKiBPerDevice'),
        ),
      ],
    ]),
  );
  return {
    runs,
    ratios,
    method: {
      repetitions,
      stages,
      holdSeconds,
      note: 'bench/fleet-scale.ts per broker (fresh PKI, EC devices, uncapped connect rate); medians over alternating runs',
    },
    holds: results.map((result) => ({ broker: result.broker, ...result.hold, notOnline: result.notOnline })),
  };
}
