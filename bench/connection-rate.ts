/**
 * Suite `connect`: mTLS connections per second (full TLS 1.3 handshake with a client certificate + MQTT
 * CONNECT/CONNACK), certfleet vs Mosquitto, EC and RSA device keys, alternating runs, medians; next to the
 * openssl-speed ceiling of the public-key work one handshake costs the broker.
 */
import type { ConnectRateParams, ConnectRateResult } from './loadgen/connect-rate.ts';
import { benchPki } from './lib/bench-pki.ts';
import { type BrokerName, type BrokerUnderTest, mosquittoVersion, startBrokerByName } from './lib/brokers.ts';
import { clientCeiling, type DeviceKey, handshakeCeiling, serverOperations } from './lib/ceiling.ts';
import { alternatingOrder, medianOf, spreadPercent } from './lib/compare.ts';
import { cpuSeconds, loadAverage } from './lib/process-stats.ts';
import { runLoadgen } from './lib/run-loadgen.ts';
import { ratio } from './lib/stats.ts';
import { opensslHandshakeSpeeds } from './machine.ts';

export interface ConnectSample {
  broker: BrokerName;
  key: DeviceKey;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connections per CPU-second the broker process used in the window: independent of other load on the machine. */
  perBrokerCpuSecond: number;
  brokerCpuShare: number;
  loadgenCpuShare: number;
  failures: number;
  load1: number;
}

export interface ConnectOptions {
  quick: boolean;
  brokers?: BrokerName[];
  keys?: DeviceKey[];
  /** certfleet runs with --cpu-prof, profile written here. */
  cpuProfDir?: string;
  concurrency?: number;
}

export async function measureConnect(
  broker: BrokerUnderTest,
  params: Omit<ConnectRateParams, 'port'>,
  key: DeviceKey,
): Promise<ConnectSample> {
  let cpuAtStart = 0;
  let cpuAtEnd = 0;
  const result = await runLoadgen<ConnectRateResult>(
    'connect-rate',
    { ...params, port: broker.port },
    {
      onMeasuring: () => {
        cpuAtStart = cpuSeconds(broker.pid);
      },
      onMeasured: () => {
        cpuAtEnd = cpuSeconds(broker.pid);
      },
    },
  );
  if (result.resumed > 0)
    throw new Error(`${result.resumed} handshakes resumed a session: not full handshakes`);
  const brokerCpu = cpuAtEnd - cpuAtStart;
  return {
    broker: broker.name,
    key,
    perSecond: result.perSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    perBrokerCpuSecond: result.connections / brokerCpu,
    brokerCpuShare: brokerCpu / result.seconds,
    loadgenCpuShare: result.loadgenCpuSeconds / result.seconds,
    failures: result.failures,
    load1: loadAverage(),
  };
}

export async function benchConnectionRate(options: ConnectOptions) {
  const { quick } = options;
  const repetitions = quick ? 2 : 5;
  const timing = quick ? { warmupMs: 300, durationMs: 1000 } : { warmupMs: 1500, durationMs: 6000 };
  const concurrency = options.concurrency ?? 32;
  const passMs = quick ? timing.warmupMs : 10_000;
  const keys = options.keys ?? (['ec', 'rsa'] as DeviceKey[]);
  // bare-tls (Node + OpenSSL, no broker) and openssl s_server (OpenSSL, no Node) split certfleet's gap to Mosquitto
  // into what is ours and what is the platform's.
  const names =
    options.brokers ?? (['certfleet', 'mosquitto', 'bare-tls', 'openssl-s_server'] as BrokerName[]);
  const pki = await benchPki({ ec: 64, rsa: 16 });
  const speeds = opensslHandshakeSpeeds(1);
  const brokers: BrokerUnderTest[] = [];
  const samples: ConnectSample[] = [];
  try {
    for (const name of names) brokers.push(await startBrokerByName(pki.stateDir, name, options.cpuProfDir));
    for (const key of keys) {
      const identities = key === 'ec' ? pki.ec : pki.rsa;
      // One unmeasured pass per server and key first: certfleet's JIT keeps compiling the connection path for
      // tens of seconds (its figures rose over the first minute of a run, whichever key came first), and a broker
      // that has been running is the steady state to compare.
      for (const broker of brokers) {
        await measureConnect(
          broker,
          {
            ca: pki.ca,
            identities,
            concurrency,
            probe: broker.probe,
            warmupMs: 0,
            durationMs: passMs,
          },
          key,
        );
      }
      for (let repetition = 0; repetition < repetitions; repetition++) {
        for (const broker of alternatingOrder(brokers, repetition)) {
          samples.push(
            await measureConnect(
              broker,
              { ca: pki.ca, identities, concurrency, probe: broker.probe, ...timing },
              key,
            ),
          );
        }
      }
    }
  } finally {
    await Promise.all(brokers.map((broker) => broker.stop()));
  }
  const runs = keys.flatMap((key) =>
    names.map((name) => {
      const group = samples.filter((s) => s.broker === name && s.key === key);
      return {
        ...medianOf(group),
        cpuSpreadPercent: spreadPercent(group, 'perBrokerCpuSecond'),
        ceilingPerCpuSecond: handshakeCeiling(speeds, key),
      };
    }),
  );
  const pick = (name: BrokerName, key: DeviceKey, field: 'perSecond' | 'perBrokerCpuSecond') =>
    Number(runs.find((r) => r.broker === name && r.key === key)?.[field]);
  const ratios = Object.fromEntries(
    keys.flatMap((key) => [
      [
        `${key}: certfleet/mosquitto connections/s`,
        ratio(pick('certfleet', key, 'perSecond'), pick('mosquitto', key, 'perSecond')),
      ],
      [
        `${key}: certfleet/mosquitto connections per broker CPU-second`,
        ratio(pick('certfleet', key, 'perBrokerCpuSecond'), pick('mosquitto', key, 'perBrokerCpuSecond')),
      ],
      [
        `${key}: certfleet/bare node:tls connections per server CPU-second`,
        ratio(pick('certfleet', key, 'perBrokerCpuSecond'), pick('bare-tls', key, 'perBrokerCpuSecond')),
      ],
      [
        `${key}: bare node:tls/openssl s_server connections per server CPU-second`,
        ratio(
          pick('bare-tls', key, 'perBrokerCpuSecond'),
          pick('openssl-s_server', key, 'perBrokerCpuSecond'),
        ),
      ],
      [
        `${key}: certfleet per broker CPU-second / openssl-speed ceiling`,
        ratio(pick('certfleet', key, 'perBrokerCpuSecond'), handshakeCeiling(speeds, key)),
      ],
    ]),
  );
  return {
    runs,
    ratios,
    method: {
      repetitions,
      ...timing,
      concurrency,
      unmeasuredPassPerServerAndKeyMs: passMs,
      identities: { ec: pki.ec.length, rsa: pki.rsa.length },
      note: 'medians over alternating runs; one load-generator process (bench/loadgen/connect-rate.ts); TLS 1.3, no resumption',
    },
    ceiling: {
      opensslSpeed: speeds,
      serverOperations: { ec: serverOperations('ec'), rsa: serverOperations('rsa') },
      brokerHandshakesPerCpuSecond: {
        ec: handshakeCeiling(speeds, 'ec'),
        rsa: handshakeCeiling(speeds, 'rsa'),
      },
      loadgenHandshakesPerCpuSecond: { ec: clientCeiling(speeds, 'ec'), rsa: clientCeiling(speeds, 'rsa') },
    },
    versions: { mosquitto: mosquittoVersion(), node: process.version },
    samples,
  };
}
