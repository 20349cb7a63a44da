/**
 * The policy reloads live, validated first: a good edit narrows open sessions at once (subscriptions outside the
 * new grant removed, a CN without an entry cut), a bad edit keeps the policy in force and says so in the audit
 * file and on the audit topic the dashboard reads. And revocation matches issuer and serial. Real TLS, real broker.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCrlBundle, revocationKey } from '../../broker/crl-watch.ts';
import { pkiLayout, revokeIdentity, showIdentity } from '../../pki/index.ts';
import { DEFAULT_POLICY_YAML } from '../../pki/default-policy.ts';
import {
  connectAs,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
} from '../helpers/broker-fixture.ts';

let pki: PkiFixture;
const cleanups: (() => Promise<void>)[] = [];
const perTest: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002', 'observer-1'] });
  cleanups.push(() => pki.cleanup());
});
afterEach(async () => {
  await runCleanups(perTest);
  await writeFile(pkiLayout(pki.stateDir).policy, withObservers('devices/+/#'));
});
afterAll(() => runCleanups(cleanups));

const withObservers = (filter: string) =>
  `${DEFAULT_POLICY_YAML}\n  - cn: "observer-*"\n    subscribe: ["${filter}"]\n`;

/** As an editor saves: a new file renamed over the old one. */
async function savePolicy(text: string): Promise<void> {
  const file = pkiLayout(pki.stateDir).policy;
  await writeFile(`${file}.swp`, text);
  await rename(`${file}.swp`, file);
}

/** The SUBACK return code for one filter (128 = refused; mqtt.js reports that as an error with the packet). */
function subscribe(client: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve, reject) =>
    client.subscribe(filter, { qos: 1 }, (error, granted) => {
      const refused = (error as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted?.[0];
      if (refused !== undefined) return resolve(refused);
      if (error) return reject(error);
      resolve(granted?.[0]?.qos ?? -1);
    }),
  );
}

/** Every message the client receives from now on. */
function inbox(client: MqttClient): string[] {
  const seen: string[] = [];
  client.on('message', (topic) => seen.push(topic));
  return seen;
}

function publishAcked(client: MqttClient, topic: string): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, 'x', { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
}

describe('policy live reload', () => {
  it('a narrower grant removes the subscriptions outside it at once', async () => {
    await writeFile(pkiLayout(pki.stateDir).policy, withObservers('devices/+/#'));
    const { broker, waitFor } = await startTestBroker(pki.stateDir, {}, perTest);
    const observer = await connectAs(broker, pki.stateDir, 'observer-1', {}, perTest);
    const sensor = await connectAs(broker, pki.stateDir, 'sensor-002', {}, perTest);
    expect(await subscribe(observer.client, 'devices/+/#')).toBe(1);
    const seen = inbox(observer.client);
    await publishAcked(sensor.client, 'devices/sensor-002/telemetry');
    await expect.poll(() => seen.length).toBe(1);

    await savePolicy(withObservers('devices/sensor-001/#'));
    const removed = await waitFor((r) => r.event === 'subscription-removed', 'the removed subscription');
    expect(removed).toMatchObject({ reason: 'SUBSCRIBE_DENIED', cn: 'observer-1', topic: 'devices/+/#' });
    expect((await waitFor((r) => r.event === 'policy-reloaded')).detail).toMatch(
      /0 session\(s\) closed, 1 narrowed/,
    );
    // The session stays; the filter is gone and the new grant rules what it may subscribe to.
    await publishAcked(sensor.client, 'devices/sensor-002/telemetry');
    expect(await subscribe(observer.client, 'devices/+/#')).toBe(128);
    expect(await subscribe(observer.client, 'devices/sensor-001/#')).toBe(1);
    await publishAcked(sensor.client, 'devices/sensor-002/telemetry');
    expect(seen).toEqual(['devices/sensor-002/telemetry']);
    expect(observer.client.connected).toBe(true);
  });

  it('a CN that loses its entry is cut (UNKNOWN_IDENTITY) and refused from then on', async () => {
    const { broker, waitFor } = await startTestBroker(pki.stateDir, {}, perTest);
    const observer = await connectAs(broker, pki.stateDir, 'observer-1', {}, perTest);
    expect(observer.connected).toBe(true);
    const closed = new Promise<void>((resolve) => observer.client.once('close', () => resolve()));
    await savePolicy(DEFAULT_POLICY_YAML); // no observer-* entry any more
    await closed;
    const withdrawn = await waitFor((r) => r.event === 'grant-withdrawn');
    expect(withdrawn).toMatchObject({ reason: 'UNKNOWN_IDENTITY', cn: 'observer-1' });
    const end = await waitFor((r) => r.event === 'disconnected' && r.cn === 'observer-1');
    expect(end.reason).toBe('UNKNOWN_IDENTITY');
    const again = await connectAs(broker, pki.stateDir, 'observer-1', {}, perTest);
    expect(again.error?.code).toBe(5);
  });

  it('a bad edit keeps the policy in force and says so in the audit file and on the audit topic', async () => {
    const auditFile = join(pki.stateDir, 'bad-edit.jsonl');
    const { broker, waitFor } = await startTestBroker(pki.stateDir, { auditFile }, perTest);
    const dashboard = await connectAs(broker, pki.stateDir, 'dashboard', {}, perTest);
    const feed: string[] = [];
    dashboard.client.on('message', (_topic, payload) => feed.push(payload.toString()));
    expect(await subscribe(dashboard.client, '$SYS/certfleet/#')).toBe(1);

    await savePolicy(`${DEFAULT_POLICY_YAML}\n  - cn: "observer-*"\n    subscribe: ["devices/#/x"]\n`);
    const rejected = await waitFor((r) => r.event === 'policy-rejected', 'the rejected policy');
    expect(rejected.reason).toBe('POLICY_INVALID');
    expect(rejected.detail).toMatch(/policy\.yaml:\d+: identities\[\d+\]\.subscribe\[0\]: "devices\/#\/x"/);
    await expect.poll(() => feed.some((line) => line.includes('"policy-rejected"'))).toBe(true);
    const file = await readFile(broker.auditFile, 'utf8');
    expect(file).toContain('"event":"policy-rejected"');
    expect(file).not.toMatch(/"event":"policy-reloaded"/);
    // The old policy is still in force: observer-1 may still subscribe to devices/+/#.
    const observer = await connectAs(broker, pki.stateDir, 'observer-1', {}, perTest);
    expect(await subscribe(observer.client, 'devices/+/#')).toBe(1);
  });
});

describe('revocation by issuer and serial', () => {
  it("the CRL bundle revokes the issuing CA's serial, not the same serial under another issuer", async () => {
    const layout = pkiLayout(pki.stateDir);
    const issuing = new X509Certificate(await readFile(layout.issuingCert));
    const root = new X509Certificate(await readFile(layout.rootCert));
    const { serial } = await showIdentity(pki.stateDir, 'sensor-001');
    await revokeIdentity(pki.stateDir, 'sensor-001');
    const state = await readCrlBundle(layout.crlBundle, [root, issuing]);
    const name = (cert: X509Certificate) => cert.subject.split('\n').join(', ');
    expect(state.revoked.has(revocationKey(name(issuing), serial))).toBe(true);
    expect(state.revoked.has(revocationKey(name(root), serial))).toBe(false);
    expect(state.revoked.has(serial)).toBe(false);
    // And the broker refuses it by that key.
    const { broker, waitFor } = await startTestBroker(pki.stateDir, {}, perTest);
    const outcome = await connectAs(broker, pki.stateDir, 'sensor-001', {}, perTest);
    expect(outcome.connected).toBe(false);
    expect((await waitFor((r) => r.cn === 'sensor-001' && r.event === 'handshake-refused')).reason).toBe(
      'REVOKED',
    );
  });
});
