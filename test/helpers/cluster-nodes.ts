/** Broker nodes of a Redis cluster for tests: `certfleet broker --redis` child processes, so one can be SIGKILLed. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { tlsOptionsFor } from './broker-fixture.ts';
import { CERTFLEET } from './pki-fixture.ts';

export interface TestNode {
  readonly id: string;
  readonly port: number;
  readonly auditFile: string;
  readonly child: ChildProcess;
  /** Polls the node's own audit file until a record matches (the node is another process). */
  waitForAudit(
    match: (record: AuditRecord) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<AuditRecord>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function startNode(
  stateDir: string,
  redisUrl: string,
  id: string,
  cleanups: (() => Promise<void>)[],
): Promise<TestNode> {
  const args = [
    CERTFLEET,
    '--state-dir',
    stateDir,
    'broker',
    '--port',
    '0',
    '--redis',
    redisUrl,
    '--node-id',
    id,
  ];
  const child = spawn(process.execPath, [...args, '--json-ready', '--stop-with-parent'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  cleanups.push(() => kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ready = await new Promise<{ port: number; auditFile: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node ${id} exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
  });
  const waitForAudit = async (match: (record: AuditRecord) => boolean, what: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    let records: AuditRecord[] = [];
    while (Date.now() < deadline) {
      records = await readAuditLog(ready.auditFile).catch(() => []);
      const found = records.find(match);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const tail = records.slice(-15).map((r) => JSON.stringify(r));
    throw new Error(
      `node ${id}: timed out waiting for ${what}; last records:\n${tail.join('\n')}\n${stderr}`,
    );
  };
  return { id, port: ready.port, auditFile: ready.auditFile, child, waitForAudit, kill };
}

/** An MQTT 3.1.1 client of `id` on a node; resolves on CONNACK or rejects with the error (code = CONNACK rc). */
export async function connectTo(
  port: number,
  stateDir: string,
  id: string,
  extra: IClientOptions,
  cleanups: (() => Promise<void>)[],
  /** Attach listeners before anything can arrive (a resumed session delivers right after CONNACK). */
  before: (client: MqttClient) => void = () => {},
): Promise<MqttClient> {
  const options = {
    ...(await tlsOptionsFor(stateDir, id)),
    clientId: id,
    protocolVersion: 4 as const,
    ...extra,
  };
  const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, options);
  cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  before(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error(`${id}: connection to port ${port} closed before CONNACK`)));
  });
  return client;
}
