/** Every credential of the rogue kit is refused with its own reason; EC and RSA devices get in. */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reason } from '../../core/reasons.ts';
import { pkiLayout, showIdentity } from '../../pki/index.ts';
import {
  type BrokerFixture,
  connectAs,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
} from '../helpers/broker-fixture.ts';
import { connectThroughSClient, sClient } from '../helpers/broker-peers.ts';

let pki: PkiFixture;
let fixture: BrokerFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'], rsa: ['meter-001'] }, true);
  cleanups.push(() => pki.cleanup());
  fixture = await startTestBroker(pki.stateDir, {}, cleanups);
});
afterAll(() => runCleanups(cleanups));

describe('valid devices', () => {
  it.each([
    ['sensor-001', 'EC'],
    ['meter-001', 'RSA'],
  ])('%s (%s key) is accepted', async (id) => {
    const outcome = await connectAs(fixture.broker, pki.stateDir, id, {}, cleanups);
    expect(outcome.connected).toBe(true);
    const info = await showIdentity(pki.stateDir, id);
    const record = await fixture.waitFor((r) => r.event === 'connection-accepted' && r.cn === id);
    expect(record).toMatchObject({
      reason: 'OK',
      clientId: id,
      cert: { fingerprint256: info.fingerprint256 },
    });
    expect(record.peer?.address).toBe('127.0.0.1');
  });
});

describe('rogue credentials', () => {
  const cases: [string, Reason, 'handshake-refused' | 'connect-refused'][] = [
    ['no-cert', 'NO_CERTIFICATE', 'handshake-refused'],
    ['self-signed', 'SELF_SIGNED', 'handshake-refused'],
    ['foreign-ca', 'UNKNOWN_CA', 'handshake-refused'],
    ['impostor-ca', 'UNKNOWN_CA', 'handshake-refused'],
    ['expired', 'EXPIRED', 'handshake-refused'],
    ['not-yet-valid', 'NOT_YET_VALID', 'handshake-refused'],
    ['revoked', 'REVOKED', 'handshake-refused'],
    ['wrong-usage', 'WRONG_KEY_USAGE', 'handshake-refused'],
    ['unknown-cn', 'UNKNOWN_IDENTITY', 'connect-refused'],
  ];
  it.each(cases)('%s → %s, and the client gets CONNACK 5', async (kind, reason, event) => {
    const id = `rogue-${kind}`;
    const outcome = await connectAs(fixture.broker, pki.stateDir, id, {}, cleanups);
    expect(outcome.connected).toBe(false);
    expect(outcome.error?.code).toBe(5); // "not authorized": MQTT.js stops instead of retrying blindly
    const record = await fixture.waitFor((r) => r.clientId === id && r.event === event, `${event} of ${id}`);
    expect(record.reason).toBe(reason);
    expect(record.peer).toEqual({ address: '127.0.0.1', port: expect.any(Number) });
    if (event === 'handshake-refused') {
      // the gate answered the CONNECT itself: aedes never saw this connection
      expect(record.detail).toContain('MQTT: connack-5-sent');
      expect(fixture.records.filter((r) => r.connection === record.connection).map((r) => r.event)).toEqual([
        event,
      ]);
    }
    if (kind === 'no-cert') {
      expect(record.cert).toBeUndefined();
    } else {
      const info = await showIdentity(pki.stateDir, id);
      expect(record.cert).toMatchObject({ serial: info.serial, fingerprint256: info.fingerprint256 });
      expect(record.cert?.subject).toContain(`CN=${id}`);
      expect(record.cert?.issuer).toBeTruthy();
    }
  });

  it('sha1 → WEAK_SIGNATURE (openssl at security level 0, since OpenSSL 3 will not even load it otherwise)', async () => {
    const info = await showIdentity(pki.stateDir, 'rogue-sha1');
    const result = await sClient(fixture.broker.port, [
      ...['-CAfile', info.paths.ca, '-cert', info.paths.chain, '-key', info.paths.key],
      ...['-cipher', 'DEFAULT@SECLEVEL=0'],
    ]);
    expect(result.stdout + result.stderr).toContain('CONNECTION ESTABLISHED');
    const record = await fixture.waitFor(
      (r) => r.event === 'handshake-refused' && r.cert?.serial === info.serial,
    );
    expect(record.reason).toBe('WEAK_SIGNATURE');
  });

  it('wrong-key never reaches the broker: the client cannot even load it', async () => {
    const info = await showIdentity(pki.stateDir, 'rogue-wrong-key');
    const [cert, key] = await Promise.all([readFile(info.paths.chain), readFile(info.paths.key)]);
    expect(() => tls.createSecureContext({ cert, key })).toThrow(/key values mismatch/);
    const result = await sClient(fixture.broker.port, ['-cert', info.paths.chain, '-key', info.paths.key]);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/key values mismatch/);
  });
});

describe('TLS versions', () => {
  it('TLS 1.1 is refused and audited', async () => {
    const result = await sClient(fixture.broker.port, ['-tls1_1']);
    expect(result.status).not.toBe(0);
    const record = await fixture.waitFor(
      (r) => r.event === 'handshake-refused' && r.reason === 'PROTOCOL_ERROR',
    );
    expect(record.detail).toMatch(/PROTOCOL/);
  });

  it.each(['-tls1_2', '-tls1_3'])('%s succeeds with a device certificate: CONNACK 0', async (flag) => {
    const info = await showIdentity(pki.stateDir, 'sensor-001');
    const returnCode = await connectThroughSClient(fixture.broker.port, 'sensor-001', [
      flag,
      ...['-CAfile', info.paths.ca, '-cert', info.paths.cert, '-key', info.paths.key],
      ...['-cert_chain', pkiLayout(pki.stateDir).issuingCert, '-verify_return_error'],
    ]);
    expect(returnCode).toBe(0);
    const record = await fixture.waitFor(
      (r) => r.event === 'connection-accepted' && r.tls === `TLSv1.${flag.slice(-1)}`,
    );
    expect(record.cn).toBe('sensor-001');
  });

  it('openssl with an expired certificate gets CONNACK 5', async () => {
    const info = await showIdentity(pki.stateDir, 'rogue-expired');
    const returnCode = await connectThroughSClient(fixture.broker.port, 'rogue-expired', [
      ...['-CAfile', info.paths.ca, '-cert', info.paths.chain, '-key', info.paths.key],
    ]);
    expect(returnCode).toBe(5);
  });
});

describe('strict mode', () => {
  it('closes right after the handshake: no CONNACK, and the audit says so', async () => {
    const strict = await startTestBroker(
      pki.stateDir,
      { strict: true, auditFile: `${pki.stateDir}/strict.jsonl` },
      cleanups,
    );
    const outcome = await connectAs(strict.broker, pki.stateDir, 'rogue-expired', {}, cleanups);
    expect(outcome.connected).toBe(false);
    expect(outcome.error?.code).not.toBe(5);
    const record = await strict.waitFor((r) => r.event === 'handshake-refused');
    expect(record).toMatchObject({ reason: 'EXPIRED', cn: 'rogue-expired' });
    expect(record.detail).toContain('strict');
  });
});
