/**
 * `npm run bench [-- <suite...>] [--quick]`: runs the benchmark suites, prints a table per suite and writes the
 * figures with the machine description to bench/results/<suite>-<date>.json. Never run by `npm test`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mosquittoVersion } from './lib/brokers.ts';
import { loadAverage } from './lib/process-stats.ts';
import { describeMachine } from './machine.ts';
import { benchCluster } from './cluster.ts';
import { benchClusterSync } from './cluster-sync.ts';
import { benchConnectionRate } from './connection-rate.ts';
import { benchFleetCompare } from './fleet-compare.ts';
import { benchFleetMemory } from './fleet-memory.ts';
import { benchMemory } from './memory.ts';
import { benchOverload, parseOverloadArgs } from './overload.ts';
import { benchPkiIssuance } from './pki-issuance.ts';
import { benchScale } from './scale.ts';
import { benchThroughput } from './throughput.ts';
import { benchUi } from './ui-responsiveness.ts';

type Suite = (options: { quick: boolean }) => Promise<unknown>;

export const SUITES: Record<string, Suite> = {
  connect: benchConnectionRate,
  throughput: benchThroughput,
  fleet: benchFleetCompare,
  'fleet-memory': benchFleetMemory,
  memory: benchMemory,
  pki: benchPkiIssuance,
  ui: benchUi,
  cluster: benchCluster,
  'cluster-sync': benchClusterSync,
  scale: benchScale,
  // Parameters: run bench/overload.ts directly (its header says how).
  overload: ({ quick }) => benchOverload(parseOverloadArgs([], quick)),
};

/** Suites that take most of the machine for minutes: run only when named. */
const NAMED_ONLY = new Set(['scale', 'cluster-sync', 'overload']);

function printResult(name: string, result: unknown): void {
  process.stdout.write(`\n== ${name} ==\n`);
  const value = result as { runs?: Array<Record<string, unknown>> };
  if (Array.isArray(value.runs))
    console.table(
      value.runs.map((run) =>
        Object.fromEntries(
          Object.entries(run).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(2)) : v]),
        ),
      ),
    );
  // Every sample stays in the JSON file; the terminal gets the medians, ratios and method.
  const { runs: _runs, samples: _samples, captures: _captures, ...rest } = value as Record<string, unknown>;
  process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(
      `usage: npm run bench [-- <suite…>] [--quick]\nsuites: ${Object.keys(SUITES).join(', ')} (${[...NAMED_ONLY].join(', ')} only when named)\n`,
    );
    return;
  }
  const quick = argv.includes('--quick');
  const requested = argv.filter((arg) => !arg.startsWith('--'));
  const unknown = requested.filter((name) => !SUITES[name]);
  if (unknown.length > 0) {
    process.stderr.write(
      `ERROR: unknown benchmark: ${unknown.join(', ')}\nAvailable: ${Object.keys(SUITES).join(', ')}\n`,
    );
    process.exitCode = 1;
    return;
  }
  const names =
    requested.length > 0 ? requested : Object.keys(SUITES).filter((name) => !NAMED_ONLY.has(name));
  const machine: Record<string, string | number> = {
    ...describeMachine(),
    mosquitto: mosquittoVersion(),
    load1AtStart: loadAverage(),
  };
  process.stdout.write(`machine: ${JSON.stringify(machine)}\n`);
  const resultsDir = join(import.meta.dirname, 'results');
  await mkdir(resultsDir, { recursive: true });
  const started = performance.now();
  for (const name of names) {
    const suiteStarted = performance.now();
    const result = await SUITES[name]!({ quick });
    printResult(name, result);
    // A --quick smoke run never overwrites the figures of a full one.
    const file = join(
      resultsDir,
      `${name}-${String(machine.date).slice(0, 10)}${quick ? '-quick' : ''}.json`,
    );
    await writeFile(file, `${JSON.stringify({ suite: name, quick, machine, result }, null, 2)}\n`);
    const suiteSeconds = ((performance.now() - suiteStarted) / 1000).toFixed(0);
    process.stdout.write(`(${suiteSeconds} s; written to ${file})\n`);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`\nall suites: ${seconds.toFixed(0)} s; load average now ${loadAverage()}\n`);
}

await main(process.argv.slice(2));
