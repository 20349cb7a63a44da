/**
 * The Eclipse Paho interoperability suites (MQTT 3.1.1: 10 tests, MQTT 5: 27 tests; unmodified, from
 * shared/third_party) against certfleet and, as the anchor, Mosquitto — same PKI, same identities, a policy of `#`
 * with a deny rule (Mosquitto: the same as an ACL). The suites speak plain TCP: a bridge of ours presents, per
 * client id, the certificate whose CN is that id. Each suite's outcome is asserted test by test for both brokers,
 * so a regression on either side (ours, or a Mosquitto upgrade that changes the anchor) shows by name.
 * The per-test table is printed; README "MQTT conformance" explains every test certfleet does not pass.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showIdentity } from '../../pki/index.ts';
import { makePki, type PkiFixture, runCleanups, startTestBroker } from '../helpers/broker-fixture.ts';
import { startMosquitto } from '../helpers/devices-mosquitto.ts';
import { type BridgeIdentity, startPahoBridge } from '../helpers/paho-bridge.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAHO_DIR = [
  process.env.CERTFLEET_PAHO_DIR,
  join(ROOT, '..', 'shared', 'third_party', 'paho.mqtt.testing', 'interoperability'),
].find((dir): dir is string => dir !== undefined && existsSync(join(dir, 'client_test5.py')));
const RUNNER = join(ROOT, 'test', 'paho', 'run_suite.py');

/** The client ids the suites use; the empty one is bridged with its own identity. */
const SUITE_IDS = ['myclientid', 'myclientid2', 'clean retained'];
const EMPTY_ID_IDENTITY = 'paho-anonymous';

const POLICY = `version: 1
identities:
  - cn: [myclientid, myclientid2]
    publish: ["#"]
    subscribe: ["#"]
    deny:
      subscribe: ["test/nosubscribe"]
  - cn: ["clean retained", ${EMPTY_ID_IDENTITY}]
    publish: ["#"]
    subscribe: ["#"]
`;

const MOSQUITTO_ACL = `${['myclientid', 'myclientid2']
  .map((user) => `user ${user}\ntopic readwrite #\ntopic deny test/nosubscribe\n`)
  .join('\n')}
user clean retained
topic readwrite #

user ${EMPTY_ID_IDENTITY}
topic readwrite #
`;

type Outcome = 'pass' | 'fail' | 'error' | 'timeout';
type Results = Record<string, Outcome>;

/**
 * What each broker must pass: a regression on either side fails this test by name. A test passing beyond these is
 * reported, not failed: several of the suites' tests are timing-bound (sleeps of 0.2–2 s between steps) and flip on
 * a loaded 2-core machine. certfleet's misses are explained in README "MQTT conformance" with the spec clause;
 * Mosquitto's (2.0.11, defaults plus the ACL) are its own.
 */
const MUST_PASS = {
  v311: {
    certfleet: [
      'testBasic',
      'test_dollar_topics',
      'test_keepalive',
      'test_offline_message_queueing',
      'test_overlapping_subscriptions',
      'test_redelivery_on_reconnect',
      'test_retained_messages',
      'test_subscribe_failure',
      'test_unsubscribe',
      'test_zero_length_clientid',
    ],
    mosquitto: [
      'testBasic',
      'test_dollar_topics',
      'test_keepalive',
      'test_offline_message_queueing',
      'test_redelivery_on_reconnect',
      'test_retained_messages',
      'test_unsubscribe',
      'test_zero_length_clientid',
    ],
  },
  v5: {
    certfleet: [
      'test_assigned_clientid',
      'test_basic',
      'test_client_topic_alias',
      'test_dollar_topics',
      'test_keepalive',
      'test_maximum_packet_size',
      'test_offline_message_queueing',
      'test_overlapping_subscriptions',
      'test_payload_format',
      'test_publication_expiry',
      'test_redelivery_on_reconnect',
      'test_request_response',
      'test_retained_message',
      'test_server_keep_alive',
      'test_server_topic_alias',
      'test_session_expiry',
      'test_subscribe_identifiers',
      'test_unsubscribe',
      'test_user_properties',
      'test_zero_length_clientid',
    ],
    // certfleet also passes test_will_message, left out on both sides: the will comes from a keepalive timeout
    // (1.5 × 2 s) that races the second client's CONNECT and SUBSCRIBE — Mosquitto missed it at load 18 (06:45 run).
    // certfleet also passes test_flow_control1, test_flow_control2, test_subscribe_options and test_will_delay, but
    // they are left out: flow_control1 waits for a 2 s socket timeout between steps, will_delay wants the will within
    // ±1 s, subscribe_options shares Mosquitto's load flake, and in flow_control2 Paho's client answers PUBRECs
    // after the broker's DISCONNECT 0x93 and can meet a closed socket (EPIPE) — a race on any broker that closes.
    // test_session_expiry and test_subscribe_options also pass on Mosquitto when the machine is quiet, but ended in
    // an error at load ~10 in a CI run (their sleeps race the broker): kept out so the anchor does not flake.
    mosquitto: [
      'test_assigned_clientid',
      'test_basic',
      'test_client_topic_alias',
      'test_keepalive',
      'test_maximum_packet_size',
      'test_offline_message_queueing',
      'test_overlapping_subscriptions',
      'test_payload_format',
      'test_publication_expiry',
      'test_redelivery_on_reconnect',
      'test_request_response',
      'test_retained_message',
      'test_shared_subscriptions',
      'test_unsubscribe',
      'test_user_properties',
      'test_zero_length_clientid',
    ],
  },
};

let pki: PkiFixture;
let work: string;
const cleanups: (() => Promise<void>)[] = [];
const results: Record<'v311' | 'v5', Record<'certfleet' | 'mosquitto', Results>> = {
  v311: { certfleet: {}, mosquitto: {} },
  v5: { certfleet: {}, mosquitto: {} },
};
let ports: Record<'certfleet' | 'mosquitto', number>;

/** One run of the runner: the names of every test, and the outcomes it reported before it ended. */
function runOnce(
  suite: string,
  port: number,
  only: string[],
): Promise<{ names: string[]; outcomes: Results; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('python3', ['-u', RUNNER, join(PAHO_DIR!, suite), String(port), ...only], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PAHO_TEST_TIMEOUT: '40' },
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 400_000); // the per-test alarms come first
    cleanups.push(async () => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(kill);
      let names: string[] = [];
      const outcomes: Results = {};
      for (const line of stdout.split('\n')) {
        if (line.startsWith('PAHO-TESTS ')) names = JSON.parse(line.slice(11)) as string[];
        if (!line.startsWith('PAHO ')) continue;
        const { test, outcome } = JSON.parse(line.slice(5)) as { test: string; outcome: Outcome };
        outcomes[test] = outcome;
      }
      resolvePromise({ names, outcomes, stderr });
    });
  });
}

/**
 * Runs a whole suite through the bridge at `port`; a test that timed out ended its process, so the tests after it
 * run in a new one (the suite's class set-up cleans the broker's state again first).
 */
async function runSuite(suite: string, port: number, label: string): Promise<Results> {
  const outcomes: Results = {};
  let remaining: string[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    const run = await runOnce(suite, port, remaining);
    Object.assign(outcomes, run.outcomes);
    const names = remaining.length > 0 ? remaining : run.names;
    if (Object.keys(run.outcomes).length === 0) {
      throw new Error(`${label}: the suite ran no test:\n${run.stderr.slice(-3000)}`);
    }
    remaining = names.filter((name) => !(name in outcomes));
    if (remaining.length === 0) break;
  }
  return outcomes;
}

function table(suite: 'v311' | 'v5'): string {
  const tests = [
    ...new Set([...Object.keys(results[suite].certfleet), ...Object.keys(results[suite].mosquitto)]),
  ];
  const rows = tests
    .sort()
    .map((t) => `| ${t} | ${results[suite].certfleet[t] ?? '—'} | ${results[suite].mosquitto[t] ?? '—'} |`);
  const count = (r: Results) =>
    `${Object.values(r).filter((o) => o === 'pass').length}/${Object.keys(r).length}`;
  return [
    `| ${suite === 'v311' ? 'MQTT 3.1.1' : 'MQTT 5'} test | certfleet | Mosquitto 2.0.11 |`,
    '|---|---|---|',
    ...rows,
    `| **passed** | ${count(results[suite].certfleet)} | ${count(results[suite].mosquitto)} |`,
  ].join('\n');
}

beforeAll(async () => {
  if (!PAHO_DIR) {
    throw new Error(
      'the Paho suites are not at ../shared/third_party/paho.mqtt.testing/interoperability (set CERTFLEET_PAHO_DIR)',
    );
  }
  pki = await makePki({ ec: [...SUITE_IDS, EMPTY_ID_IDENTITY] });
  cleanups.push(() => pki.cleanup());
  work = await mkdtemp(join(tmpdir(), 'certfleet-paho-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const policyFile = join(work, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  const aclFile = join(work, 'acl');
  await writeFile(aclFile, MOSQUITTO_ACL);

  // keepaliveLimit 60: test_server_keep_alive expects a broker that caps keepalives at 60 s to say so with Server
  // Keep Alive (MQTT 5 §3.2.2.3.14); our default cap is 600 s. Mosquitto keeps its defaults (the anchor).
  const certfleet = await startTestBroker(
    pki.stateDir,
    { policyFile, auditFile: join(work, 'audit.jsonl'), limits: { keepaliveLimit: 60 } },
    cleanups,
  );
  const mosquittoDir = await mkdtemp(join(tmpdir(), 'certfleet-paho-mosquitto-'));
  cleanups.push(() => rm(mosquittoDir, { recursive: true, force: true }));
  const mosquitto = await startMosquitto(pki.stateDir, mosquittoDir, { aclFile });
  cleanups.push(() => mosquitto.stop());

  const identities = new Map<string, BridgeIdentity>();
  for (const id of [...SUITE_IDS, EMPTY_ID_IDENTITY]) {
    const info = await showIdentity(pki.stateDir, id);
    identities.set(id, { cert: await readFile(info.paths.chain), key: await readFile(info.paths.key) });
  }
  const ca = await readFile((await showIdentity(pki.stateDir, 'myclientid')).paths.ca);
  const identityFor = (clientId: string) =>
    identities.get(clientId === '' ? EMPTY_ID_IDENTITY : clientId) ?? null;
  const bridges = await Promise.all(
    [certfleet.broker.port, mosquitto.port].map((port) =>
      startPahoBridge({ target: { host: '127.0.0.1', port }, ca, identityFor }),
    ),
  );
  for (const bridge of bridges) cleanups.push(() => bridge.close());
  ports = { certfleet: bridges[0]!.port, mosquitto: bridges[1]!.port };
}, 120_000);
afterAll(() => runCleanups(cleanups));

describe.each([
  ['v311', 'client_test.py'],
  ['v5', 'client_test5.py'],
] as const)('Paho %s suite', (suite, file) => {
  it('passes the expected tests on certfleet and on Mosquitto (run side by side)', {
    timeout: 420_000,
  }, async () => {
    const [ours, theirs] = await Promise.all([
      runSuite(file, ports.certfleet, `${suite} on certfleet`),
      runSuite(file, ports.mosquitto, `${suite} on Mosquitto`),
    ]);
    results[suite].certfleet = ours;
    results[suite].mosquitto = theirs;
    console.log(`\n${table(suite)}\n`);
    const missing = (r: Results, must: string[]) => must.filter((test) => r[test] !== 'pass');
    expect({
      certfleet: missing(ours, MUST_PASS[suite].certfleet),
      mosquitto: missing(theirs, MUST_PASS[suite].mosquitto),
    }).toEqual({
      certfleet: [],
      mosquitto: [],
    });
    // every test of the suite ran on both brokers
    expect(Object.keys(ours).length).toBe(suite === 'v311' ? 10 : 27);
    expect(Object.keys(theirs).length).toBe(suite === 'v311' ? 10 : 27);
  });
});
