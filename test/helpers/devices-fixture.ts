/**
 * Shared fixtures of the devices tests: a temporary state dir with a real PKI, our real broker, an event log that
 * tests wait on (never sleeps), and Mosquitto's command-line clients as independent MQTT peers.
 */
import { execFile, spawn } from 'node:child_process';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningBroker, startBroker } from '../../broker/index.ts';
import type { DeviceEvent } from '../../devices/events.ts';
import { ensureIdentity, type IdentityInfo, initPki, pkiLayout } from '../../pki/index.ts';

export type Cleanup = (action: () => unknown) => void;

export async function pkiStateDir(cleanup: Cleanup): Promise<string> {
  const stateDir = await mkdtemp(join(tmpdir(), 'certfleet-devices-'));
  cleanup(() => rm(stateDir, { recursive: true, force: true }));
  await initPki(stateDir);
  // Observers: dashboard-like identities for the command-line peers. The client id must equal the CN, and two
  // clients with one id take each other's session over, so each mosquitto_sub/pub gets its own observer-N.
  await appendFile(
    pkiLayout(stateDir).policy,
    `
  - cn: "observer-*"
    publish: ["devices/+/commands/#"]
    subscribe: ["devices/+/#"]
`,
  );
  return stateDir;
}

let observers = 0;
async function observer(stateDir: string): Promise<IdentityInfo> {
  return ensureIdentity(stateDir, `observer-${++observers}`);
}

export async function ourBroker(stateDir: string, cleanup: Cleanup, strict = false): Promise<RunningBroker> {
  const broker = await startBroker({ stateDir, port: 0, ...(strict && { strict }) });
  cleanup(() => broker.close());
  broker.on('warning', () => {});
  return broker;
}

/** Every event seen, and a way to wait for the one a test needs. */
export class EventLog {
  readonly events: DeviceEvent[] = [];
  private waiters: Array<{ match: (event: DeviceEvent) => boolean; resolve: (event: DeviceEvent) => void }> =
    [];

  readonly push = (event: DeviceEvent): void => {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(event)) return true;
      waiter.resolve(event);
      return false;
    });
  };

  readonly pushAll = (events: readonly DeviceEvent[]): void => {
    for (const event of events) this.push(event);
  };

  waitFor<T extends DeviceEvent>(match: (event: DeviceEvent) => event is T, timeoutMs?: number): Promise<T>;
  waitFor(match: (event: DeviceEvent) => boolean, timeoutMs?: number): Promise<DeviceEvent>;
  waitFor(match: (event: DeviceEvent) => boolean, timeoutMs = 20_000): Promise<DeviceEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching device event within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      });
    });
  }

  state(id: string, state: string, timeoutMs?: number): Promise<DeviceEvent> {
    return this.waitFor(
      (event) => event.type === 'state' && event.id === id && event.state === state,
      timeoutMs,
    );
  }
}

function tlsArgs(identity: IdentityInfo, port: number): string[] {
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '--cafile',
    identity.paths.ca,
    '--cert',
    identity.paths.chain,
    '--key',
    identity.paths.key,
    '-V',
    'mqttv311',
    '-q',
    '1',
    '-i',
    identity.id,
  ];
}

/** mosquitto_sub as an observer identity: collects `topic payload` lines until `count` arrived. */
export async function dashboardSubscribe(
  stateDir: string,
  port: number,
  topic: string,
  count: number,
  cleanup: Cleanup,
): Promise<{ lines: Promise<string[]>; ready: Promise<void> }> {
  const dashboard = await observer(stateDir);
  // stdbuf: a piped stdout is block-buffered, and the SUBACK debug line must arrive when it happens.
  const child = spawn('stdbuf', [
    '-oL',
    'mosquitto_sub',
    ...tlsArgs(dashboard, port),
    '-t',
    topic,
    '-v',
    '-C',
    String(count),
    '-W',
    '30',
    '-d',
  ]);
  cleanup(() => child.kill());
  let stdout = '';
  let stderr = '';
  // -d prints the protocol exchange: the subscription is in place once the SUBACK arrived.
  const ready = new Promise<void>((resolve) => {
    const check = () => {
      if ((stdout + stderr).includes('SUBACK')) resolve();
    };
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      check();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      check();
    });
  });
  const lines = new Promise<string[]>((resolve, reject) => {
    child.once('exit', (code) => {
      const out = stdout
        .split('\n')
        .filter((line) => line && !line.startsWith('Client ') && !line.startsWith('Subscribed'));
      if (code === 0) resolve(out);
      else reject(new Error(`mosquitto_sub exited ${code}: ${stderr}`));
    });
  });
  return { lines, ready };
}

/** mosquitto_pub as an observer identity. */
export async function dashboardPublish(
  stateDir: string,
  port: number,
  topic: string,
  message: string,
): Promise<void> {
  const dashboard = await observer(stateDir);
  await new Promise<void>((resolve, reject) => {
    execFile(
      'mosquitto_pub',
      [...tlsArgs(dashboard, port), '-t', topic, '-m', message],
      (error, _out, stderr) => (error ? reject(new Error(`mosquitto_pub failed: ${stderr}`)) : resolve()),
    );
  });
}
