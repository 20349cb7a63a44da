/** `certfleet broker` as a user runs it, with Mosquitto's own clients as independent peers. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import type { IdentityInfo } from '../../pki/index.ts';
import { makePki, type PkiFixture, runCleanups } from '../helpers/broker-fixture.ts';
import { runPeer } from '../helpers/broker-peers.ts';

const CLI = fileURLToPath(new URL('../../bin/certfleet.js', import.meta.url));
let pki: PkiFixture;
let broker: ChildProcess;
let port: number;
let exited: Promise<number | null>;
const cleanups: (() => Promise<void>)[] = [];

async function show(id: string): Promise<IdentityInfo> {
  const result = await runPeer(process.execPath, [
    CLI,
    '--state-dir',
    pki.stateDir,
    'pki',
    'show',
    id,
    '--json',
  ]).done;
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as IdentityInfo;
}

/** mosquitto_pub/sub arguments for an identity, straight from `certfleet pki show --json`. */
function credentials(info: IdentityInfo | null, ca: string): string[] {
  const tls = ['-h', '127.0.0.1', '-p', String(port), '--cafile', ca];
  return info
    ? [...tls, '--cert', info.paths.chain, '--key', info.paths.key, '-i', info.id]
    : [...tls, '-i', 'anonymous'];
}

/** The broker is another process: poll its audit file until a record matches. */
async function auditRecord(match: (r: AuditRecord) => boolean): Promise<AuditRecord | undefined> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const found = (await readAuditLog(`${pki.stateDir}/audit.jsonl`)).find(match);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'] }, true);
  cleanups.push(() => pki.cleanup());
  broker = spawn(process.execPath, [CLI, '--state-dir', pki.stateDir, 'broker', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => broker.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (broker.exitCode === null) broker.kill('SIGKILL');
  });
  port = await new Promise<number>((resolve, reject) => {
    broker.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
    createInterface({ input: broker.stdout! }).on('line', (line) => {
      const match = /^listening on mqtts:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (match) resolve(Number(match[1]));
    });
  });
});
afterAll(() => runCleanups(cleanups));

describe('certfleet broker with mosquitto clients', () => {
  it('a valid device publishes and the dashboard identity receives', async () => {
    const [device, dashboard] = await Promise.all([show('sensor-001'), show('dashboard')]);
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => {
      subscribed = resolve;
    });
    const sub = runPeer(
      'stdbuf', // line-buffered, so the SUBACK line arrives before the message
      [
        '-oL',
        'mosquitto_sub',
        ...credentials(dashboard, dashboard.paths.ca),
        '-t',
        'devices/+/telemetry',
        '-C',
        '1',
        '-v',
        '-d',
      ],
      { onStdout: (text) => text.includes('SUBACK') && subscribed() },
    );
    cleanups.push(async () => sub.kill());
    await ready;
    const pub = await runPeer('mosquitto_pub', [
      ...credentials(device, device.paths.ca),
      ...['-t', 'devices/sensor-001/telemetry', '-m', '21.5', '-q', '1'],
    ]).done;
    expect(pub.status).toBe(0);
    const received = await sub.done;
    expect(received.stdout).toContain('devices/sensor-001/telemetry 21.5');
  });

  it.each([
    ['no certificate', null, 'NO_CERTIFICATE'],
    ['a foreign CA', 'rogue-foreign-ca', 'UNKNOWN_CA'],
    ['an expired certificate', 'rogue-expired', 'EXPIRED'],
  ])('%s is refused (CONNACK "not authorised")', async (_what, id, reason) => {
    const info = id ? await show(id) : null;
    const ca = (await show('sensor-001')).paths.ca;
    const pub = await runPeer('mosquitto_pub', [
      ...credentials(info, ca),
      '-t',
      'devices/x/telemetry',
      '-m',
      '1',
    ]).done;
    expect(pub.status).not.toBe(0);
    expect(pub.stderr).toMatch(/not authori[sz]ed/i);
    const refusal = await auditRecord(
      (r) => r.event === 'handshake-refused' && r.clientId === (id ?? 'anonymous'),
    );
    expect(refusal?.reason).toBe(reason);
  });

  it('a topic outside the grant is refused: the device is disconnected', async () => {
    const device = await show('sensor-001');
    const pub = await runPeer('mosquitto_pub', [
      ...credentials(device, device.paths.ca),
      ...['-t', 'devices/sensor-002/telemetry', '-m', 'forged', '-q', '1'],
    ]).done;
    expect(pub.status).not.toBe(0);
    const denied = await auditRecord(
      (r) => r.event === 'publish-denied' && r.topic === 'devices/sensor-002/telemetry',
    );
    expect(denied?.reason).toBe('PUBLISH_DENIED');
  });

  it('SIGTERM stops it cleanly: exit 0 and the audit file ends with broker-stopped', async () => {
    broker.kill('SIGTERM');
    expect(await exited).toBe(0);
    const records = await readAuditLog(`${pki.stateDir}/audit.jsonl`);
    expect(records.at(-1)?.event).toBe('broker-stopped');
  });
});
