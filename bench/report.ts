/**
 * The results table of BENCHMARKS.md, generated from the result files the suites wrote (so no figure in it comes
 * from anywhere else):   node --import tsx bench/report.ts [date=today]   → markdown on stdout.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const date = process.argv[2] ?? new Date().toISOString().slice(0, 10);
const dir = join(import.meta.dirname, 'results');

type Row = Record<string, unknown>;
interface ResultFile {
  machine: Record<string, string | number>;
  result: { runs: Row[]; ratios?: Record<string, number> } & Record<string, unknown>;
}

async function load(suite: string): Promise<ResultFile | null> {
  try {
    return JSON.parse(await readFile(join(dir, `${suite}-${date}.json`), 'utf8')) as ResultFile;
  } catch {
    return null;
  }
}

const n = (value: unknown, digits = 0) =>
  typeof value === 'number' && Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';
const x = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(2)}×` : '—';
const pct = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '—';
const find = (runs: Row[], match: Row) =>
  runs.find((run) => Object.entries(match).every(([key, value]) => run[key] === value)) ?? {};

const lines: string[] = [];
const connect = await load('connect');
const throughput = await load('throughput');
const fleet = await load('fleet');
const pki = await load('pki');
const machine = connect?.machine ?? throughput?.machine ?? fleet?.machine;
if (machine) {
  lines.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${machine.node} (OpenSSL ${machine.nodeOpenssl}); ${machine.openssl}; ${machine.mosquitto ?? 'mosquitto'}.`,
    '',
  );
}
lines.push('| Measure | certfleet | Mosquitto | certfleet / Mosquitto | Target |', '|---|---|---|---|---|');
if (connect) {
  const { runs } = connect.result;
  for (const key of ['ec', 'rsa']) {
    const c = find(runs, { broker: 'certfleet', key });
    const m = find(runs, { broker: 'mosquitto', key });
    const label = key === 'ec' ? 'EC P-256' : 'RSA-2048';
    lines.push(
      `| mTLS connections/s, ${label} devices (wall clock; p50 / p99 ms) | ${n(c.perSecond)} (${n(c.p50Ms)} / ${n(c.p99Ms)}) | ${n(m.perSecond)} (${n(m.p50Ms)} / ${n(m.p99Ms)}) | ${x(Number(c.perSecond) / Number(m.perSecond))} | ≥ 1.0× |`,
      `| mTLS connections per broker CPU-second, ${label} | ${n(c.perBrokerCpuSecond)} | ${n(m.perBrokerCpuSecond)} | ${x(Number(c.perBrokerCpuSecond) / Number(m.perBrokerCpuSecond))} | |`,
      `| … as a share of the openssl-speed ceiling (${n(c.ceilingPerCpuSecond)}/CPU-s) | ${pct(Number(c.perBrokerCpuSecond) / Number(c.ceilingPerCpuSecond))} | ${pct(Number(m.perBrokerCpuSecond) / Number(m.ceilingPerCpuSecond))} | | ≥ 50% (within 2×) |`,
    );
    // The platform references of the same run (absent from results older than 2026-11-30).
    const bare = find(runs, { broker: 'bare-tls', key });
    const openssl = find(runs, { broker: 'openssl-s_server', key });
    if (bare.perBrokerCpuSecond !== undefined)
      lines.push(
        `| … bare node:tls reference (no broker) per server CPU-second, ${label} | ${n(c.perBrokerCpuSecond)} | ${n(bare.perBrokerCpuSecond)} (reference) | ${x(Number(c.perBrokerCpuSecond) / Number(bare.perBrokerCpuSecond))} of the reference | ≥ 0.8× |`,
        `| … openssl s_server reference (no Node) per server CPU-second, ${label} | ${n(c.perBrokerCpuSecond)} | ${n(openssl.perBrokerCpuSecond)} (reference) | ${x(Number(c.perBrokerCpuSecond) / Number(openssl.perBrokerCpuSecond))} of the reference | |`,
      );
  }
}
if (throughput) {
  const { runs, ratios = {} } = throughput.result;
  for (const name of ['QoS 0 saturating', 'QoS 1 saturating']) {
    const c = find(runs, { case: name, broker: 'certfleet' });
    const m = find(runs, { case: name, broker: 'mosquitto' });
    lines.push(
      `| ${name}: messages/s (wall clock; p50 / p99 ms) | ${n(c.perSecond)} (${n(c.p50Ms, 1)} / ${n(c.p99Ms, 1)}) | ${n(m.perSecond)} (${n(m.p50Ms, 1)} / ${n(m.p99Ms, 1)}) | ${x(Number(c.perSecond) / Number(m.perSecond))} | ${name.startsWith('QoS 0') ? '≥ 0.8×' : ''} |`,
      `| ${name}: messages per broker CPU-second | ${n(c.perBrokerCpuSecond)} | ${n(m.perBrokerCpuSecond)} | ${x(Number(c.perBrokerCpuSecond) / Number(m.perBrokerCpuSecond))} | |`,
    );
  }
  for (const run of runs.filter((r) => String(r.case).includes('paced') && r.broker === 'certfleet')) {
    const m = find(runs, { case: run.case, broker: 'mosquitto' });
    lines.push(
      `| ${run.case}: latency p50 / p99 ms | ${n(run.p50Ms, 2)} / ${n(run.p99Ms, 2)} | ${n(m.p50Ms, 2)} / ${n(m.p99Ms, 2)} | | |`,
    );
  }
  const q0 = find(runs, { case: 'QoS 0 saturating', broker: 'certfleet-noauth' });
  lines.push(
    `| Authorization cost, QoS 0: broker CPU per message with / without policy checks − 1 (without: ${n(q0.perBrokerCpuSecond)} msg/CPU-s) | ${pct(ratios['QoS 0 saturating: authorization overhead (CPU per message, with/without − 1)'])} | | | ≤ 5% |`,
    `| Authorization cost, QoS 0: the hooks' own CPU per message (${n(throughput.result.authorizationHooksNsPerMessage)} ns, timed in-process) / broker CPU per message without | ${pct(ratios['QoS 0 saturating: authorization overhead (hook CPU per message / broker CPU per message without)'])} | | | ≤ 5% |`,
  );
}
if (fleet) {
  const { runs } = fleet.result;
  for (const devices of [...new Set(runs.map((r) => r.devices as number))]) {
    const c = find(runs, { broker: 'certfleet', devices });
    const m = find(runs, { broker: 'mosquitto', devices });
    lines.push(
      `| Fleet: seconds to bring ${devices} EC devices online (simulated devices, 1 msg / 10 s) | ${n(c.secondsToOnline, 1)} | ${n(m.secondsToOnline, 1)} | ${x(Number(c.secondsToOnline) / Number(m.secondsToOnline))} | |`,
      `| Fleet: broker memory per connection at ${devices}, KiB | ${n(c.brokerKiBPerDevice)} | ${n(m.brokerKiBPerDevice)} | ${x(Number(c.brokerKiBPerDevice) / Number(m.brokerKiBPerDevice))} | |`,
      `| Fleet: device side (simulator process) memory per device at ${devices}, KiB | ${n(c.fleetKiBPerDevice)} | ${n(m.fleetKiBPerDevice)} | | |`,
    );
  }
}
if (pki) {
  for (const run of pki.result.runs)
    lines.push(`| PKI: ${run.label}, identities/s | ${n(run.perSecond, 1)} | | | |`);
}
const loads = [connect, throughput, fleet].flatMap((file) =>
  file ? file.result.runs.map((run) => Number(run.load1)).filter(Number.isFinite) : [],
);
if (loads.length > 0) {
  lines.push(
    '',
    `1-minute load average during the runs: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (2 cores).`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
