/**
 * The brokers under test, each in its own process: certfleet (bench/servers/certfleet-broker.ts) and Mosquitto from
 * a generated config. Both serve the same PKI from the same state dir.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pkiLayout } from '../../pki/index.ts';
import { mosquittoAcl, mosquittoConfig } from './mosquitto-config.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const MOSQUITTO = '/usr/sbin/mosquitto';

export type BrokerName = 'certfleet' | 'certfleet-noauth' | 'mosquitto';

export interface BrokerUnderTest {
  readonly name: BrokerName;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export function mosquittoVersion(): string {
  try {
    return execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8' }).split('\n')[0] ?? 'unknown';
  } catch (error) {
    // `mosquitto -h` exits 3 after printing its usage
    const output = (error as { stdout?: string }).stdout ?? '';
    return output.split('\n')[0]?.trim() || 'not found';
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(force);
        done();
      });
      child.kill('SIGTERM');
    });
}

export interface CertfleetBrokerOptions {
  authorization?: boolean;
  /** Run with --cpu-prof and write the profile here. */
  cpuProfDir?: string;
}

export async function startCertfleet(
  stateDir: string,
  options: CertfleetBrokerOptions = {},
): Promise<BrokerUnderTest> {
  const args = [
    ...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : []),
    '--import',
    'tsx',
    join(REPO, 'bench', 'servers', 'certfleet-broker.ts'),
    stateDir,
    ...(options.authorization === false ? ['--no-authorization'] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = stopper(child);
  const ready = await new Promise<{ port: number }>((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => done(JSON.parse(line) as { port: number }));
    child.once('exit', (code) => fail(new Error(`certfleet broker exited (${code}) before listening`)));
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  const name: BrokerName = options.authorization === false ? 'certfleet-noauth' : 'certfleet';
  return { name, port: ready.port, pid: child.pid!, stop };
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}) before listening`);
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    await new Promise((wait) => setTimeout(wait, 50));
  }
  throw new Error(`mosquitto did not listen on ${port} within ${deadlineMs} ms`);
}

export async function startMosquitto(stateDir: string): Promise<BrokerUnderTest> {
  const layout = pkiLayout(stateDir);
  const port = await freePort();
  const aclFile = join(stateDir, 'bench-mosquitto.acl');
  const configFile = join(stateDir, 'bench-mosquitto.conf');
  await writeFile(aclFile, mosquittoAcl());
  const server = join(layout.identitiesDir, 'server');
  const config = mosquittoConfig({
    port,
    cafile: layout.rootCert,
    certfile: join(server, 'chain.pem'),
    keyfile: join(server, 'key.pem'),
    crlfile: layout.crlBundle,
    aclFile,
    logFile: join(stateDir, 'bench-mosquitto.log'),
  });
  await writeFile(configFile, config);
  const child = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = stopper(child);
  await waitForPort(port, child, 10_000).catch(async (error) => {
    await stop();
    throw error;
  });
  return { name: 'mosquitto', port, pid: child.pid!, stop };
}

export function startBrokerByName(
  stateDir: string,
  name: BrokerName,
  cpuProfDir?: string,
): Promise<BrokerUnderTest> {
  if (name === 'mosquitto') return startMosquitto(stateDir);
  return startCertfleet(stateDir, {
    authorization: name !== 'certfleet-noauth',
    ...(cpuProfDir !== undefined && { cpuProfDir }),
  });
}
