/** Live revocation, limits, start-up errors and graceful shutdown with the audit intact. */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../broker/audit-log.ts';
import { startBroker } from '../../broker/broker.ts';
import { UserError } from '../../core/user-error.ts';
import { pkiLayout, revokeIdentity, showIdentity } from '../../pki/index.ts';
import {
  connectAs,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
} from '../helpers/broker-fixture.ts';
import { sClient } from '../helpers/broker-peers.ts';

let pki: PkiFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002', 'sensor-003', 'sensor-004', 'sensor-005'] });
  cleanups.push(() => pki.cleanup());
});
afterAll(() => runCleanups(cleanups));

const auditFile = (name: string) => join(pki.stateDir, `${name}.jsonl`);

describe('live revocation', () => {
  it('cuts an open session when its certificate is revoked, and refuses it from then on', async () => {
    const { broker, waitFor } = await startTestBroker(
      pki.stateDir,
      { auditFile: auditFile('revoke') },
      cleanups,
    );
    const outcome = await connectAs(broker, pki.stateDir, 'sensor-005', {}, cleanups);
    expect(outcome.connected).toBe(true);
    const closed = new Promise<void>((resolve) => outcome.client.once('close', () => resolve()));
    const { serial } = await showIdentity(pki.stateDir, 'sensor-005');

    await revokeIdentity(pki.stateDir, 'sensor-005');
    await closed;
    const cut = await waitFor((r) => r.event === 'revoked-session-closed');
    expect(cut).toMatchObject({ reason: 'REVOKED', cn: 'sensor-005', cert: { serial } });
    const end = await waitFor((r) => r.event === 'disconnected' && r.cn === 'sensor-005');
    expect(end.reason).toBe('REVOKED');

    const again = await connectAs(broker, pki.stateDir, 'sensor-005', {}, cleanups);
    expect(again.error?.code).toBe(5);
    const refused = await waitFor((r) => r.event === 'handshake-refused' && r.cn === 'sensor-005');
    expect(refused.reason).toBe('REVOKED');
  });
});

describe('limits', () => {
  it('a packet over the size limit closes the session (LIMIT_EXCEEDED)', async () => {
    const limits = { maxPacketSize: 1024 };
    const { broker, waitFor } = await startTestBroker(
      pki.stateDir,
      { auditFile: auditFile('size'), limits },
      cleanups,
    );
    const { client } = await connectAs(broker, pki.stateDir, 'sensor-001', {}, cleanups);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('devices/sensor-001/telemetry', Buffer.alloc(4096));
    await closed;
    const end = await waitFor((r) => r.event === 'disconnected' && r.cn === 'sensor-001');
    expect(end.reason).toBe('LIMIT_EXCEEDED');
    expect(end.detail).toMatch(/exceeds the limit of 1024/);
  });

  it('a topic deeper than the limit closes the session (LIMIT_EXCEEDED)', async () => {
    const limits = { maxTopicLevels: 3 };
    const { broker, waitFor } = await startTestBroker(
      pki.stateDir,
      { auditFile: auditFile('depth'), limits },
      cleanups,
    );
    const { client } = await connectAs(broker, pki.stateDir, 'sensor-002', {}, cleanups);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('devices/sensor-002/telemetry/a/b', 'x');
    await closed;
    const end = await waitFor((r) => r.event === 'disconnected' && r.cn === 'sensor-002');
    expect(end.reason).toBe('LIMIT_EXCEEDED');
  });

  it('a keepalive beyond the limit is refused at CONNECT (MQTT 3.1.1; keepalive 0 is admitted)', async () => {
    const limits = { keepaliveLimit: 60 };
    const { broker, waitFor } = await startTestBroker(
      pki.stateDir,
      { auditFile: auditFile('ka'), limits },
      cleanups,
    );
    const outcome = await connectAs(broker, pki.stateDir, 'sensor-003', { keepalive: 120 }, cleanups);
    expect(outcome.error?.code).toBe(5);
    const record = await waitFor((r) => r.event === 'connect-refused');
    expect(record).toMatchObject({ reason: 'LIMIT_EXCEEDED', cn: 'sensor-003' });
  });

  it('connections beyond the maximum are dropped before the handshake', async () => {
    const limits = { maxConnections: 1 };
    const { broker, waitFor } = await startTestBroker(
      pki.stateDir,
      { auditFile: auditFile('max'), limits },
      cleanups,
    );
    const first = await connectAs(broker, pki.stateDir, 'sensor-003', {}, cleanups);
    expect(first.connected).toBe(true);
    const second = net.connect(broker.port, '127.0.0.1');
    cleanups.push(async () => void second.destroy());
    await new Promise((resolve) => second.once('close', resolve));
    const record = await waitFor((r) => r.event === 'handshake-refused' && r.reason === 'LIMIT_EXCEEDED');
    expect(record.detail).toMatch(/max connections \(1\)/);
  });

  it('a verified client that never sends CONNECT is closed at the CONNECT timeout', async () => {
    const limits = { connectTimeoutMs: 300 };
    const { broker, waitFor } = await startTestBroker(
      pki.stateDir,
      { auditFile: auditFile('ct'), limits },
      cleanups,
    );
    const info = await showIdentity(pki.stateDir, 'sensor-004');
    const silent = net.connect(broker.port, '127.0.0.1'); // TCP only: the TLS handshake never starts
    cleanups.push(async () => void silent.destroy());
    const chain = ['-cert_chain', pkiLayout(pki.stateDir).issuingCert];
    await sClient(broker.port, [
      '-CAfile',
      info.paths.ca,
      '-cert',
      info.paths.cert,
      '-key',
      info.paths.key,
      ...chain,
      '-ign_eof',
    ]);
    const record = await waitFor((r) => r.event === 'connect-refused' && r.cn === 'sensor-004');
    expect(record.reason).toBe('TIMEOUT');
  });
});

describe('start-up errors', () => {
  it('a broken policy names file and line', async () => {
    const policyFile = join(pki.stateDir, 'broken-policy.yaml');
    await writeFile(policyFile, 'version: 1\nidentities:\n  - cn: x\n    subscribe: ["a/#/b"]\n');
    const error = await startBroker({ stateDir: pki.stateDir, port: 0, policyFile }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).why).toContain(`${policyFile}:4: identities[0].subscribe[0]`);
  });

  it('no PKI says what to run', async () => {
    const stateDir = join(pki.stateDir, 'empty');
    const error = await startBroker({
      stateDir,
      port: 0,
      policyFile: join(pki.stateDir, 'policy.yaml'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).format()).toMatch(/certfleet pki init/);
  });

  it('a port in use says so', async () => {
    const { broker } = await startTestBroker(pki.stateDir, { auditFile: auditFile('port1') }, cleanups);
    const error = await startBroker({
      stateDir: pki.stateDir,
      port: broker.port,
      auditFile: auditFile('port2'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).why).toMatch(/in use/);
  });
});

describe('graceful shutdown', () => {
  it('closes every client, audits why, and leaves a complete audit file', async () => {
    const file = auditFile('shutdown');
    // A peer that never starts its handshake must not hold the shutdown for the (here huge) handshake timeout.
    const limits = { handshakeTimeoutMs: 600_000 };
    const broker = await startBroker({ stateDir: pki.stateDir, port: 0, auditFile: file, limits });
    cleanups.push(() => broker.close());
    const silent = net.connect(broker.port, '127.0.0.1');
    cleanups.push(async () => void silent.destroy());
    await new Promise((resolve) => silent.once('connect', resolve));
    const a = await connectAs(broker, pki.stateDir, 'sensor-001', {}, cleanups);
    const b = await connectAs(broker, pki.stateDir, 'sensor-002', {}, cleanups);
    expect(a.connected && b.connected).toBe(true);
    const bothClosed = Promise.all(
      [a, b].map((o) => new Promise<void>((resolve) => o.client.once('close', () => resolve()))),
    );
    await broker.close();
    await bothClosed;
    const records = await readAuditLog(file);
    expect(records[0]?.event).toBe('broker-started');
    expect(records.at(-1)?.event).toBe('broker-stopped');
    const ends = records.filter((r) => r.event === 'disconnected');
    expect(ends.map((r) => [r.cn, r.reason]).sort()).toEqual([
      ['sensor-001', 'SERVER_SHUTDOWN'],
      ['sensor-002', 'SERVER_SHUTDOWN'],
    ]);
  });
});
