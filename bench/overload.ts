/**
 * Suite `overload`: does the broker degrade gracefully when devices dial faster than it can finish handshakes?
 * A fleet dials `devices` at `rate`/s into certfleet's broker (its own process) while the broker's core is shared
 * with `burners` CPU-burning processes (all pinned to core 0 with taskset; the fleet runs on the other cores), and a
 * shorter handshake deadline makes the collapse reproducible in under a minute. Every second: devices online,
 * rejected and retrying, the broker's event-loop lag. At the end: the broker's refusals by reason (its audit).
 *
 * The collapse it reproduces (issue 17's scale run at 250/s, load ~20): handshakes queue past the deadline, the
 * broker cuts them after the device's certificate went out, and devices took those closes for refusals.
 *
 *   node --import tsx bench/overload.ts [--devices 1500] [--rate 250] [--handshake-timeout 2000] [--burners 1]
 *     [--seconds 60]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseAuditRecord } from '../core/audit.ts';
import type { DeviceEvent } from '../devices/events.ts';
import { Fleet } from '../devices/fleet.ts';
import { planFleet } from '../devices/plan.ts';
import { initPki } from '../pki/index.ts';
import { REPO } from './lib/brokers.ts';
import { cpuSeconds, loadAverage } from './lib/process-stats.ts';
import { raiseOpenFileLimit } from './scale.ts';

export interface OverloadOptions {
  devices: number;
  rate: number;
  handshakeTimeoutMs: number;
  burners: number;
  seconds: number;
}

interface Sample {
  t: number;
  online: number;
  rejected: number;
  retrying: number;
  lagMaxMs?: number;
  /** CPU used in the last second, % of one core. */
  brokerCpu: number;
  fleetCpu: number;
  load1: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pinned(args: string[]): ChildProcess {
  const child = spawn('taskset', ['-c', '0', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', () => {});
  return child;
}

export async function benchOverload(options: OverloadOptions) {
  raiseOpenFileLimit();
  const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-bench-overload-'));
  const children: ChildProcess[] = [];
  const fleet = new Fleet({
    connectRatePerSecond: options.rate,
    workers: Math.max(1, availableParallelism() - 1),
  });
  try {
    await initPki(stateDir);
    for (let i = 0; i < options.burners; i++) children.push(pinned([process.execPath, '-e', 'for(;;){}']));
    const broker = pinned([
      process.execPath,
      '--import',
      'tsx',
      join(REPO, 'bench', 'servers', 'certfleet-broker.ts'),
      stateDir,
      '--handshake-timeout',
      String(options.handshakeTimeoutMs),
      '--report-lag',
    ]);
    children.push(broker);
    let lastLag: number | undefined;
    createInterface({ input: broker.stderr! }).on('line', (line) => {
      if (line.startsWith('{')) lastLag = (JSON.parse(line) as { lagMaxMs: number }).lagMaxMs;
      else process.stderr.write(`broker: ${line}\n`);
    });
    const { port } = await new Promise<{ port: number }>((done, fail) => {
      createInterface({ input: broker.stdout! }).once('line', (line) => done(JSON.parse(line)));
      broker.once('exit', (code) => fail(new Error(`broker exited (${code}) before listening`)));
    });
    const specs = await planFleet({
      stateDir,
      broker: { host: '127.0.0.1', port },
      count: options.devices,
      profiles: ['climate'],
      intervalMs: 10_000,
      keyType: 'ec',
    });
    const states = new Map<string, string>();
    fleet.subscribe((events: readonly DeviceEvent[]) => {
      for (const event of events) if (event.type === 'state') states.set(event.id, event.state);
    });
    await fleet.ready();
    const count = (state: string) => [...states.values()].filter((s) => s === state).length;
    const timeline: Sample[] = [];
    const started = performance.now();
    fleet.add(specs);
    let cpu = { broker: cpuSeconds(broker.pid!), fleet: cpuSeconds(process.pid) };
    for (;;) {
      await sleep(1_000);
      const now = { broker: cpuSeconds(broker.pid!), fleet: cpuSeconds(process.pid) };
      const sample: Sample = {
        t: Math.round((performance.now() - started) / 1000),
        online: count('online'),
        rejected: count('rejected'),
        retrying: count('backing-off'),
        ...(lastLag !== undefined && { lagMaxMs: lastLag }),
        brokerCpu: Math.round((now.broker - cpu.broker) * 100),
        fleetCpu: Math.round((now.fleet - cpu.fleet) * 100),
        load1: loadAverage(),
      };
      cpu = now;
      timeline.push(sample);
      process.stderr.write(`overload: ${JSON.stringify(sample)}\n`);
      if (sample.online + sample.rejected >= options.devices || sample.t >= options.seconds) break;
    }
    const results = await fleet.results();
    const rejectedBy: Record<string, number> = {};
    for (const result of results)
      if (result.state === 'rejected')
        rejectedBy[result.reason ?? '?'] = (rejectedBy[result.reason ?? '?'] ?? 0) + 1;
    await fleet.stop();
    broker.kill('SIGTERM');
    await new Promise((done) => broker.once('exit', done));
    const refusals: Record<string, number> = {};
    const auditFile = join(stateDir, `bench-audit-${broker.pid}.jsonl`);
    const text = await readFile(auditFile, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const record = parseAuditRecord(line);
      if (!record || !/refused/.test(record.event)) continue;
      const key = `${record.event} ${record.reason}`;
      refusals[key] = (refusals[key] ?? 0) + (record.count ?? 1);
    }
    const last = timeline.at(-1);
    const allOnlineAt = timeline.find((sample) => sample.online >= options.devices)?.t;
    return {
      ...options,
      online: last?.online ?? 0,
      rejected: last?.rejected ?? 0,
      secondsToAllOnline: allOnlineAt ?? null,
      attempts: results.reduce((sum, result) => sum + result.attempts, 0),
      rejectedBy,
      refusals,
      lagMaxMs: Math.max(0, ...timeline.map((sample) => sample.lagMaxMs ?? 0)),
      timeline,
    };
  } finally {
    await fleet.stop().catch(() => {});
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function parseOverloadArgs(argv: string[], quick: boolean): OverloadOptions {
  const value = (flag: string, fallback: number) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? Number(argv[index + 1]) : fallback;
  };
  return {
    devices: value('--devices', quick ? 500 : 1_500),
    rate: value('--rate', 250),
    handshakeTimeoutMs: value('--handshake-timeout', 2_000),
    burners: value('--burners', 1),
    seconds: value('--seconds', quick ? 30 : 60),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchOverload(parseOverloadArgs(process.argv.slice(2), false));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
