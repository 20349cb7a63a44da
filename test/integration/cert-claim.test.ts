/**
 * Provisioning by claim, over real TLS against our real broker: 50 devices share one claim certificate and each
 * obtains its own identity, then runs as it; the claim certificate itself can do nothing else; and the refused
 * variants each carry their own reason (quota, a CN outside the template or taken, a weak key, renewing someone
 * else's name).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '../../devices/device.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { planFleet } from '../../devices/plan.ts';
import type { DeviceSpec } from '../../devices/spec.ts';
import { buildCsr, issueClaim, issueIdentities, listIdentities, revokeIdentity } from '../../pki/index.ts';
import { type BrokerFixture, connectAs, startTestBroker } from '../helpers/broker-fixture.ts';
import { EventLog, pkiStateDir } from '../helpers/devices-fixture.ts';
import { certfleet } from '../helpers/pki-fixture.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
const brokerCleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
  for (const action of brokerCleanups.splice(0).reverse()) await action();
});

type Rejected = Extract<DeviceEvent, { type: 'rejected' }>;

async function claimFleet(stateDir: string, fixture: BrokerFixture, count: number): Promise<DeviceSpec[]> {
  return planFleet({
    stateDir,
    broker: { host: '127.0.0.1', port: fixture.broker.port },
    count,
    intervalMs: 2_000,
    claim: 'factory',
  });
}

function run(specs: DeviceSpec[], log: EventLog): void {
  for (const spec of specs) {
    const device = new SimulatedDevice(spec, log.push);
    cleanup(() => device.stop());
    device.start();
  }
}

function request(client: MqttClient, cn: string, ref: string, csr: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    client.on('message', (topic, payload) => {
      if (topic === `enroll/${cn}/response/${ref}`) resolve(JSON.parse(payload.toString()));
    });
    client.subscribe(`enroll/${cn}/response/${ref}`, { qos: 1 }, (error) => {
      if (error) return reject(error);
      client.publish(`enroll/${cn}/request`, JSON.stringify({ ref, csr }), { qos: 1 });
    });
  });
}

describe('provisioning by claim', () => {
  it('50 devices provision from one claim certificate, then run as themselves; the 51st is over quota', async () => {
    const stateDir = await pkiStateDir(cleanup);
    await issueClaim(stateDir, 'factory', { quota: 50 });
    const fixture = await startTestBroker(stateDir, {}, brokerCleanups);
    const specs = await claimFleet(stateDir, fixture, 50);
    const log = new EventLog();
    run(specs, log);
    const provisioned = () => log.events.filter((e) => e.type === 'provisioned');
    await expect.poll(() => provisioned().length, { timeout: 60_000, interval: 200 }).toBe(50);
    const ids = new Set(provisioned().map((e) => e.id));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^sensor-[0-9a-f]{8}$/);
    // Each is now online under its own name: the broker accepted a session whose certificate CN is that id.
    await expect
      .poll(
        () =>
          new Set(
            fixture.records
              .filter((r) => r.event === 'connection-accepted' && ids.has(r.cn ?? ''))
              .map((r) => r.cn),
          ).size,
        {
          timeout: 30_000,
        },
      )
      .toBe(50);
    const issued = fixture.records.filter((r) => r.event === 'enrollment-issued');
    expect(issued).toHaveLength(50);
    for (const record of issued) {
      expect(record.cn).toBe('claim-factory');
      expect(record.issued?.via).toBe('claim');
      expect(ids.has(record.issued!.cn)).toBe(true);
    }
    expect(issued.at(-1)?.detail).toMatch(/\(50\/50 of claim "factory"\)/);

    // The 51st device of the same claim is refused with its own reason, and says so on its ladder.
    const [extra] = await claimFleet(stateDir, fixture, 1);
    const extraLog = new EventLog();
    run([extra!], extraLog);
    const rejected = (await extraLog.waitFor((e) => e.type === 'rejected', 30_000)) as Rejected;
    expect(rejected.reason).toBe('CLAIM_QUOTA_EXCEEDED');
    const refused = await fixture.waitFor((r) => r.event === 'enrollment-refused');
    expect(refused).toMatchObject({ reason: 'CLAIM_QUOTA_EXCEEDED', cn: 'claim-factory' });
  }, 120_000);

  it('the claim certificate can do nothing but enroll', async () => {
    const stateDir = await pkiStateDir(cleanup);
    await issueClaim(stateDir, 'factory', { quota: 5 });
    const fixture = await startTestBroker(stateDir, {}, brokerCleanups);
    const asClaim = await connectAs(fixture.broker, stateDir, 'claim-factory', {}, brokerCleanups);
    expect(asClaim.connected).toBe(true);
    const subscribe = (filter: string) =>
      new Promise<number>((resolve) =>
        asClaim.client.subscribe(filter, { qos: 1 }, (error, granted) =>
          resolve(
            (error as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted?.[0] ??
              granted?.[0]?.qos ??
              -1,
          ),
        ),
      );
    expect(await subscribe('#')).toBe(128);
    expect(await subscribe('devices/+/telemetry')).toBe(128);
    expect(await subscribe('devices/claim-factory/commands/#')).toBe(128);
    expect(await subscribe('enroll/claim-factory/response/+')).toBe(1);
    const closed = new Promise<void>((resolve) => asClaim.client.once('close', () => resolve()));
    asClaim.client.publish('devices/claim-factory/telemetry', '{}', { qos: 1 });
    await closed;
    expect(
      (await fixture.waitFor((r) => r.event === 'publish-denied' && r.cn === 'claim-factory')).topic,
    ).toBe('devices/claim-factory/telemetry');
    // Nor may it take a device's client id.
    const spoof = await connectAs(
      fixture.broker,
      stateDir,
      'claim-factory',
      { clientId: 'sensor-001' },
      brokerCleanups,
    );
    expect(spoof.connected).toBe(false);
    expect(
      (await fixture.waitFor((r) => r.event === 'connect-refused' && r.cn === 'claim-factory')).reason,
    ).toBe('CLIENT_ID_MISMATCH');
  });

  it('refuses a CN outside the template, a CN that exists, and a weak key — each with its reason', async () => {
    const stateDir = await pkiStateDir(cleanup);
    await issueIdentities(stateDir, ['sensor-001']);
    await issueClaim(stateDir, 'factory', { quota: 10 });
    const fixture = await startTestBroker(stateDir, {}, brokerCleanups);
    const [a, b, c] = await claimFleet(stateDir, fixture, 3);
    const variants: Array<[DeviceSpec, string]> = [
      [{ ...a!, claim: { ...a!.claim!, requestedCn: 'tracker-1234' } }, 'CN_NOT_ALLOWED'],
      [{ ...b!, claim: { ...b!.claim!, requestedCn: 'sensor-001' } }, 'CN_NOT_ALLOWED'],
      [{ ...c!, claim: { ...c!.claim!, keyType: 'rsa-1024' } }, 'WEAK_KEY'],
    ];
    const log = new EventLog();
    run(
      variants.map(([spec]) => spec),
      log,
    );
    for (const [spec, reason] of variants) {
      const rejected = (await log.waitFor(
        (e) => e.type === 'rejected' && e.id === spec.id,
        30_000,
      )) as Rejected;
      expect(rejected.reason).toBe(reason);
    }
    const refusals = fixture.records.filter((r) => r.event === 'enrollment-refused');
    expect(refusals.map((r) => r.reason).sort()).toEqual(['CN_NOT_ALLOWED', 'CN_NOT_ALLOWED', 'WEAK_KEY']);
    expect(refusals.find((r) => /tracker-1234/.test(r.detail ?? ''))?.detail).toMatch(/sensor-\{serial\}/);
    expect(refusals.find((r) => /sensor-001/.test(r.detail ?? ''))?.detail).toMatch(/exists already/);
    expect(fixture.records.some((r) => r.event === 'enrollment-issued')).toBe(false);
  }, 60_000);

  it('a device may renew only its own name; a forged CSR is refused', async () => {
    const stateDir = await pkiStateDir(cleanup);
    await issueIdentities(stateDir, ['sensor-001', 'sensor-002']);
    const fixture = await startTestBroker(stateDir, {}, brokerCleanups);
    const { client } = await connectAs(fixture.broker, stateDir, 'sensor-001', {}, brokerCleanups);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const other = await request(client, 'sensor-001', 'r1', await buildCsr('sensor-002', key));
    expect(other).toMatchObject({ ok: false, reason: 'CN_NOT_ALLOWED' });
    const csr = await buildCsr('sensor-001', key);
    const forged = csr.replace(
      /(\n[A-Za-z0-9+/]{10})([A-Za-z0-9+/])/,
      (_m, head, ch) => `${head}${ch === 'A' ? 'B' : 'A'}`,
    );
    const bad = await request(client, 'sensor-001', 'r2', forged);
    expect(bad).toMatchObject({ ok: false, reason: 'CSR_INVALID' });
    const own = await request(client, 'sensor-001', 'r3', csr);
    expect(own).toMatchObject({ ok: true });
  });

  it('an identity provisioned by claim can be revoked by its CN: the broker cuts it, `pki list` shows it revoked', async () => {
    const stateDir = await pkiStateDir(cleanup);
    await issueClaim(stateDir, 'factory', { quota: 1 });
    const fixture = await startTestBroker(stateDir, {}, brokerCleanups);
    const log = new EventLog();
    run(await claimFleet(stateDir, fixture, 1), log);
    const provisioned = (await log.waitFor((e) => e.type === 'provisioned', 30_000)) as Extract<
      DeviceEvent,
      { type: 'provisioned' }
    >;
    const cn = provisioned.id;
    expect(cn).toMatch(/^sensor-[0-9a-f]{8}$/);
    const accepted = await fixture.waitFor((r) => r.event === 'connection-accepted' && r.cn === cn);
    const serial = fixture.records.find((r) => r.event === 'enrollment-issued')!.issued!.serial;
    expect(accepted.cert?.serial).toBe(serial);
    const listedBefore = (await listIdentities(stateDir)).find((info) => info.id === cn);
    expect(listedBefore).toMatchObject({ role: 'enrolled', status: 'valid', serial });

    // It is in the enrollment ledger only, not the PKI index: revoking it by name still works.
    const result = await revokeIdentity(stateDir, cn);
    expect(result).toMatchObject({ alreadyRevoked: false, serials: [serial] });
    expect(result.identity).toMatchObject({ id: cn, role: 'enrolled', status: 'revoked' });
    const cut = await fixture.waitFor((r) => r.event === 'revoked-session-closed' && r.cn === cn);
    expect(cut).toMatchObject({ reason: 'REVOKED' });
    expect(cut.detail).toContain(`serial ${serial}`);
    const rejected = (await log.waitFor((e) => e.type === 'rejected', 20_000)) as Rejected;
    expect(rejected.reason).toBe('REVOKED');

    // The operator's view: `pki list --json` lists it as enrolled and revoked; revoking again is harmless.
    const listed = await certfleet(stateDir, ['pki', 'list', '--json']);
    expect(listed.code).toBe(0);
    const entry = (JSON.parse(listed.stdout) as Array<Record<string, unknown>>).find(
      (info) => info.id === cn,
    );
    expect(entry).toMatchObject({ role: 'enrolled', status: 'revoked', serial });
    expect(await revokeIdentity(stateDir, cn)).toMatchObject({ alreadyRevoked: true, serials: [serial] });
    await expect(revokeIdentity(stateDir, 'sensor-deadbeef')).rejects.toThrow(/unknown identity/);
  }, 60_000);
});
