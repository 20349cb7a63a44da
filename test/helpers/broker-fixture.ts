/** Shared setup for broker tests: one PKI + rogue kit per test file, brokers on port 0, MQTT clients. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRogueKit, initPki, issueIdentities, pkiLayout, showIdentity } from '../../pki/index.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { type BrokerOptions, type RunningBroker, startBroker } from '../../broker/broker.ts';

export interface PkiFixture {
  stateDir: string;
  cleanup(): Promise<void>;
}

export async function makePki(
  devices: { ec?: string[]; rsa?: string[] } = {},
  rogue = false,
): Promise<PkiFixture> {
  const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-broker-'));
  await initPki(stateDir);
  if (devices.ec?.length) await issueIdentities(stateDir, devices.ec, { keyType: 'ec' });
  if (devices.rsa?.length) await issueIdentities(stateDir, devices.rsa, { keyType: 'rsa' });
  if (rogue) await generateRogueKit(stateDir);
  return { stateDir, cleanup: () => rm(stateDir, { recursive: true, force: true }) };
}

/** A broker that records its audit in memory, with helpers to wait for records. */
export interface BrokerFixture {
  broker: RunningBroker;
  records: AuditRecord[];
  waitFor(match: (record: AuditRecord) => boolean, what?: string): Promise<AuditRecord>;
}

export async function startTestBroker(
  stateDir: string,
  options: Partial<BrokerOptions> = {},
  cleanups: (() => Promise<void>)[],
): Promise<BrokerFixture> {
  const broker = await startBroker({ stateDir, port: 0, ...options });
  cleanups.push(() => broker.close());
  const records: AuditRecord[] = [];
  const waiters = new Set<() => void>();
  broker.on('audit', (record) => {
    records.push(record);
    for (const check of waiters) check();
  });
  const waitFor = (match: (record: AuditRecord) => boolean, what = 'an audit record') =>
    new Promise<AuditRecord>((resolve, reject) => {
      const found = records.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for ${what}; have:\n${records.map((r) => JSON.stringify(r)).join('\n')}`,
          ),
        );
      }, 20_000);
      const check = () => {
        const hit = records.find(match);
        if (!hit) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(hit);
      };
      waiters.add(check);
    });
  return { broker, records, waitFor };
}

/** MQTT.js options for an identity (its chain, key, and our root), reconnecting never. */
export async function tlsOptionsFor(stateDir: string, id: string): Promise<IClientOptions> {
  if (id === 'rogue-no-cert') {
    const ca = await readFile(pkiLayout(stateDir).rootCert);
    return { ca, reconnectPeriod: 0, connectTimeout: 15_000, rejectUnauthorized: true };
  }
  const info = await showIdentity(stateDir, id);
  const ca = await readFile(info.paths.ca);
  const options: IClientOptions = {
    ca,
    reconnectPeriod: 0,
    connectTimeout: 15_000,
    rejectUnauthorized: true,
  };
  try {
    options.cert = await readFile(info.paths.chain);
    options.key = await readFile(info.paths.key);
  } catch {
    // no-cert: nothing to present
  }
  return options;
}

export interface ConnectOutcome {
  client: MqttClient;
  connected: boolean;
  error?: Error & { code?: number | string };
}

/** Connects with MQTT 3.1.1 and resolves on CONNACK, error or close — whichever comes first. */
export async function connectAs(
  broker: RunningBroker,
  stateDir: string,
  id: string,
  extra: IClientOptions = {},
  cleanups: (() => Promise<void>)[] = [],
): Promise<ConnectOutcome> {
  const options = {
    ...(await tlsOptionsFor(stateDir, id)),
    clientId: id,
    protocolVersion: 4 as const,
    ...extra,
  };
  const client = mqtt.connect(`mqtts://127.0.0.1:${broker.port}`, options);
  cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client, connected: true }));
    client.once('error', (error) => resolve({ client, connected: false, error }));
    client.once('close', () => resolve({ client, connected: false }));
  });
}

export async function runCleanups(cleanups: (() => Promise<void>)[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}
