/**
 * The connection checks run as a fleet (worker threads, the broker's audit joined to rejections): every listed
 * device and credential rogue connects once, until each reaches its verdict — rejected, or online with an
 * acknowledged publish — or the settle time is over.
 */
import type { DeviceResult } from '../device.ts';
import type { DeviceEvent } from '../events.ts';
import { Fleet, type FleetOptions } from '../fleet.ts';
import type { DeviceSpec } from '../spec.ts';
import type { Observation } from './types.ts';

export interface FleetPhaseOptions {
  specs: DeviceSpec[];
  settleMs: number;
  fleet: FleetOptions;
}

export async function runFleetPhase(options: FleetPhaseOptions): Promise<Map<string, Observation>> {
  const fleet = new Fleet({ ...options.fleet, workers: Math.min(options.fleet.workers ?? 2, 2) });
  const waiting = new Set(options.specs.map((spec) => spec.id));
  const explained = new Set<string>();
  const lastState = new Map<string, Extract<DeviceEvent, { type: 'state' }>>();
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const verdict = (id: string) => {
    waiting.delete(id);
    if (waiting.size === 0) allDone();
  };
  fleet.subscribe((events) => {
    for (const event of events) {
      if (event.type === 'rejected') {
        if (event.explainedBy) explained.add(event.id);
        verdict(event.id);
      } else if (event.type === 'telemetry' && (event.messages?.acked ?? 0) > 0) verdict(event.id);
      else if (event.type === 'state') lastState.set(event.id, event);
    }
  });
  try {
    fleet.add(options.specs);
    await fleet.ready();
    if (options.specs.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, options.settleMs)))]);
      clearTimeout(timer);
    }
    const final = await fleet.results();
    const stopped = new Map((await fleet.stop()).map((result) => [result.id, result]));
    const observations = new Map<string, Observation>();
    for (const result of final) {
      // A rejection explained by the broker's audit while stopping wins over the device's own words.
      const settled = result.state === 'rejected' ? (stopped.get(result.id) ?? result) : result;
      observations.set(
        result.id,
        observe(settled, stopped.get(result.id), lastState.get(result.id), explained.has(result.id)),
      );
    }
    return observations;
  } finally {
    await fleet.stop();
  }
}

function observe(
  result: DeviceResult,
  stopped: DeviceResult | undefined,
  last: Extract<DeviceEvent, { type: 'state' }> | undefined,
  explained: boolean,
): Observation {
  if (result.state === 'online') {
    const acked = stopped?.messages.acked ?? result.messages.acked;
    return {
      outcome: 'online',
      step: 'messages-flow',
      detail: `online: CONNACK 0, ${acked} publish(es) acknowledged`,
    };
  }
  if (result.state === 'rejected') {
    return {
      outcome: 'rejected',
      ...(result.reason !== undefined && { reason: result.reason }),
      ...(result.step !== undefined && { step: result.step as Observation['step'] }),
      detail: result.detail ?? 'rejected',
      ...(explained && { explainedBy: 'broker-audit' as const }),
    };
  }
  // Neither verdict in time (e.g. still backing off after an ambiguous close): it never got in.
  return {
    outcome: 'rejected',
    reason: last?.reason ?? 'TIMEOUT',
    detail: `no verdict within the settle time: ${result.state}${last?.detail ? ` (${last.detail})` : ''}`,
  };
}
