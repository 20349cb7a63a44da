/**
 * `certfleet devices run` says why the devices it could not get in are still retrying, grouped, in its summary and in
 * --json: against a real broker that went away after the run's preflight (nobody listens on its port any more:
 * "connection refused"), and against a real broker whose only handshake slot a silent peer holds ("broker busy").
 * The run is a real process; the broker is `certfleet broker` as a child process.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { pkiStateDir } from '../helpers/devices-fixture.ts';
import { type ChildBroker, type Cleanups, runAll, startChildBroker } from '../helpers/fault-broker.ts';
import { CERTFLEET } from '../helpers/pki-fixture.ts';

const cleanups: Cleanups = [];
const cleanup = (action: () => unknown) => cleanups.push(action as () => void);
afterEach(() => runAll(cleanups));
// One PKI for both runs (the second reuses the first's device identities): each test starts its own broker.
let stateDir: string;
const removeStateDir: Cleanups = [];
beforeAll(async () => {
  stateDir = await pkiStateDir((action) => removeStateDir.push(action as () => void));
}, 60_000);
afterAll(() => runAll(removeStateDir));

/** `certfleet devices run` against `port`, running while the test changes the broker under it. */
function devicesRun(port: number, extra: string[]) {
  const child = spawn(
    process.execPath,
    [
      CERTFLEET,
      '--state-dir',
      stateDir,
      'devices',
      'run',
      '--broker',
      `mqtts://127.0.0.1:${port}`,
      '--count',
      '3',
      '--duration',
      '4s',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanup(() => child.exitCode === null && child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

/** The run's preflight (one connection before any device starts, devices/check/preflight.ts) reached the broker. */
const preflightSeen = (broker: ChildBroker) =>
  broker.waitForAudit((r) => r.clientId === 'certfleet-preflight', 'the preflight connection', 60_000);

it('a broker gone after the preflight: "backing-off: 3 (connection refused: 3)"', async () => {
  const broker = await startChildBroker(stateDir, ['--quiet'], cleanups);
  const run = devicesRun(broker.port, []);
  await preflightSeen(broker);
  // Whether a device got in before this or not, from now on every attempt finds a closed port.
  broker.child.kill('SIGKILL');
  const { code, stdout, stderr } = await run;
  expect({ code, stderr: stderr.replace(/^running .*\n/, '') }).toEqual({ code: 0, stderr: '' });
  expect(stdout).toContain('  online:   0\n');
  expect(stdout).toContain('  backing-off: 3 (connection refused: 3)\n');
}, 90_000);

it('a broker whose one handshake slot a silent peer holds: --json groups them as broker busy', async () => {
  // One handshake at a time, and a deadline long enough that the silent peer keeps its slot for the whole run.
  const broker = await startChildBroker(
    stateDir,
    ['--quiet', '--max-handshakes', '1', '--handshake-timeout', '120000'],
    cleanups,
  );
  const run = devicesRun(broker.port, ['--json']);
  await preflightSeen(broker);
  // The devices start seconds after their preflight (identities, worker threads): the slot is taken by then.
  const silent = net.connect({ host: '127.0.0.1', port: broker.port, localAddress: '127.0.0.2' });
  silent.on('error', () => {});
  cleanup(() => silent.destroy());
  const { code, stdout } = await run;
  expect(code).toBe(0);
  const summary = JSON.parse(stdout);
  expect(summary).toMatchObject({ devices: 3, online: 0, other: { 'backing-off': 3 } });
  expect(summary.backingOff).toEqual([
    {
      reason: 'BROKER_BUSY',
      cause: 'broker busy',
      count: 3,
      ids: expect.arrayContaining(['sensor-001', 'sensor-002', 'sensor-003']),
    },
  ]);
  const busy = summary.results.filter((result: { state: string }) => result.state === 'backing-off');
  for (const result of busy) expect(result.detail).toMatch(/^broker busy or at a connection limit/);
  const refusals = (await broker.audit()).filter((r) => r.reason === 'BROKER_BUSY');
  expect(refusals.length).toBeGreaterThanOrEqual(3); // the broker's side of the same story
}, 90_000);

it('a broker already busy at the preflight: exit 2, and the advice names a busy broker too', async () => {
  const broker = await startChildBroker(
    stateDir,
    ['--quiet', '--max-handshakes', '1', '--handshake-timeout', '120000'],
    cleanups,
  );
  const silent = net.connect({ host: '127.0.0.1', port: broker.port, localAddress: '127.0.0.2' });
  silent.on('error', () => {});
  cleanup(() => silent.destroy());
  await new Promise((resolve) => silent.once('connect', resolve));
  const { code, stdout, stderr } = await devicesRun(broker.port, []);
  expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
  // A client sees the same of a plain MQTT port (which resets on our ClientHello): the advice names both.
  const [error, next, rest] = stderr.split('\n');
  expect(error).toMatch(
    new RegExp(
      `^ERROR: no TLS: 127\\.0\\.0\\.1:${broker.port} did not complete a TLS handshake \\(BROKER_BUSY: broker ` +
        'busy or at a connection limit: it (reset the connection \\(ECONNRESET\\)|closed the connection) before ' +
        'answering our TLS hello\\)$',
    ),
  );
  expect([next, rest]).toEqual([
    'Is this a plain MQTT port (1883)? certfleet tests mutual TLS: point --broker at the TLS listener (often 8883). ' +
      'If it is the TLS listener, the broker is at its handshake capacity or overloaded: try again in a moment.',
    '',
  ]);
}, 90_000);
