/**
 * A headless run: plan the fleet, start it, keep it running for a while (or until aborted), stop it cleanly and
 * report. The broker is the caller's business (devices/ knows nothing of broker/).
 */
import type { DeviceResult } from './device.ts';
import type { DeviceEvent } from './events.ts';
import { Fleet, type FleetOptions } from './fleet.ts';
import { startImpostorBroker } from './impostor-broker.ts';
import { type FleetPlan, planFleet } from './plan.ts';

export interface HeadlessRunOptions {
  plan: Omit<FleetPlan, 'impostorBroker'>;
  fleet?: FleetOptions;
  durationMs: number;
  /** Ends the run early (Ctrl-C): the fleet still stops cleanly and reports. */
  signal?: AbortSignal;
  onEvents?: (events: readonly DeviceEvent[]) => void;
}

export interface HeadlessRunResult {
  /** States just before the stop (online, backing-off, rejected…). */
  final: DeviceResult[];
  /** After the clean stop: final message counts. */
  stopped: DeviceResult[];
  errors: string[];
}

export async function runHeadlessFleet(options: HeadlessRunOptions): Promise<HeadlessRunResult> {
  const wantsImpostor = options.plan.rogues?.includes('impostor-broker') ?? false;
  const impostor = wantsImpostor ? await startImpostorBroker(options.plan.stateDir) : undefined;
  const fleet = new Fleet({ stateDir: options.plan.stateDir, ...options.fleet });
  const errors: string[] = [];
  try {
    const specs = await planFleet({
      ...options.plan,
      ...(impostor && { impostorBroker: impostor.address }),
    });
    fleet.subscribe((events) => {
      for (const event of events) if (event.type === 'error') errors.push(`${event.id}: ${event.message}`);
      options.onEvents?.(events);
    });
    fleet.add(specs);
    // The run's clock starts when the workers are up (loading them takes a moment on a busy machine).
    await fleet.ready();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, options.durationMs);
      function finish() {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', finish);
        resolve();
      }
      if (options.signal?.aborted) finish();
      options.signal?.addEventListener('abort', finish);
    });
    const final = await fleet.results();
    const stopped = await fleet.stop();
    const refined = new Map(stopped.map((result) => [result.id, result]));
    // A rejection explained by the broker's audit while stopping wins over the device's own words.
    return {
      final: final.map((result) =>
        result.state === 'rejected' ? (refined.get(result.id) ?? result) : result,
      ),
      stopped,
      errors,
    };
  } finally {
    await fleet.stop();
    await impostor?.close();
  }
}
