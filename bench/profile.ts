/**
 * Profiles the certfleet broker (node --cpu-prof) under one benchmark load:
 *   node --import tsx bench/profile.ts connect [seconds=15] [ec|rsa]
 *   node --import tsx bench/profile.ts throughput [seconds=15] [0|1] [--no-authorization]
 * Prints the broker's figures, then the functions with the most self time. The .cpuprofile file stays in
 * bench/results/profiles/ (open it in Chrome DevTools). Native time spent in OpenSSL during a read callback
 * shows as "(idle)" here: use `perf record -g -p <pid>` for that side (see BENCHMARKS.md).
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { measureConnect } from './connection-rate.ts';
import { benchPki } from './lib/bench-pki.ts';
import { startCertfleet } from './lib/brokers.ts';
import { inclusiveShare, summarizeProfile } from './lib/cpuprofile-summary.ts';
import { measureThroughput } from './throughput.ts';

const [load = 'connect', secondsArg = '15', variant = ''] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'));
const authorization = !process.argv.includes('--no-authorization');
const seconds = Number(secondsArg);
const profileDir = join(import.meta.dirname, 'results', 'profiles', `${load}-${variant}-${Date.now()}`);
await mkdir(profileDir, { recursive: true });
const pki = await benchPki({ ec: 64, rsa: 16 });
const broker = await startCertfleet(pki.stateDir, { cpuProfDir: profileDir, authorization });
const timing = { warmupMs: 1000, durationMs: seconds * 1000 };
try {
  if (load === 'connect') {
    const key = variant === 'rsa' ? 'rsa' : 'ec';
    const identities = key === 'ec' ? pki.ec : pki.rsa;
    console.log(await measureConnect(broker, { ca: pki.ca, identities, concurrency: 32, ...timing }, key));
  } else {
    const qos = variant === '1' ? 1 : 0;
    const testCase = { name: `QoS ${qos} saturating`, qos, brokers: [broker.name] } as const;
    const publishers = pki.ec.slice(0, 8);
    const params = {
      ca: pki.ca,
      publishers,
      subscriber: pki.dashboard,
      payloadSize: 128,
      window: 32,
      ...timing,
    };
    console.log(await measureThroughput(broker, { ...testCase, brokers: [...testCase.brokers] }, params));
  }
} finally {
  await broker.stop();
}
const file = (await readdir(profileDir)).find((name) => name.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${profileDir}`);
const path = join(profileDir, file);
const summary = await summarizeProfile(path, 30);
console.log(`profile: ${path} (${summary.totalMs.toFixed(0)} ms sampled)`);
console.table(
  summary.lines.map((line) => ({
    ...line,
    selfMs: Math.round(line.selfMs),
    selfPercent: line.selfPercent.toFixed(1),
  })),
);
console.log(
  'inclusive % of samples:',
  await inclusiveShare(path, [
    'gateConnection',
    'handle',
    'audit',
    'append',
    'authenticate',
    'authorizePublish',
    'authorizeForward',
    'publish',
    'deliverQoS',
  ]),
);
