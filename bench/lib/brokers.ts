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

export type BrokerName = 'certfleet' | 'certfleet-noauth' | 'mosquitto' | 'bare-tls' | 'openssl-s_server';

/** How a load generator proves the server verified its certificate: an MQTT CONNACK, or a line echoed back. */
export type Probe = 'mqtt' | 'line';

export interface BrokerUnderTest {
  readonly name: BrokerName;
  readonly port: number;
  readonly pid: number;
  /** `line` for openssl s_server, which speaks no MQTT. */
  readonly probe: Probe;
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
  const name: BrokerName = options.authorization === false ? 'certfleet-noauth' : 'certfleet';
  return startNodeServer(
    name,
    'certfleet-broker.ts',
    [stateDir, ...(options.authorization === false ? ['--no-authorization'] : [])],
    options.cpuProfDir,
  );
}

/** A server script of bench/servers/ in its own process; it prints one JSON line {"port":…} when listening. */
async function startNodeServer(
  name: BrokerName,
  script: string,
  scriptArgs: string[],
  cpuProfDir?: string,
): Promise<BrokerUnderTest> {
  const args = [
    ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []),
    '--import',
    'tsx',
    join(REPO, 'bench', 'servers', script),
    ...scriptArgs,
  ];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = stopper(child);
  const ready = await new Promise<{ port: number }>((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => done(JSON.parse(line) as { port: number }));
    child.once('exit', (code) => fail(new Error(`${name} exited (${code}) before listening`)));
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { name, port: ready.port, pid: child.pid!, probe: 'mqtt', stop };
}

/** The reference for what Node + OpenSSL cost without a broker (bench/servers/bare-tls.ts). */
export function startBareTls(stateDir: string): Promise<BrokerUnderTest> {
  return startNodeServer('bare-tls', 'bare-tls.ts', [stateDir]);
}

/**
 * The reference for what OpenSSL costs without Node: `openssl s_server` with the broker's certificate, the same
 * trust anchor, a required client certificate, no tickets, echoing a line back once the client is verified. It checks
 * the issuing CA's CRL for the leaf only (s_server reads one CRL), where the broker checks both: one lookup less.
 */
export async function startOpensslServer(stateDir: string): Promise<BrokerUnderTest> {
  const layout = pkiLayout(stateDir);
  const port = await freePort();
  const server = join(layout.identitiesDir, 'server');
  const args = [
    's_server',
    '-accept',
    `127.0.0.1:${port}`,
    '-cert',
    join(server, 'cert.pem'),
    '-key',
    join(server, 'key.pem'),
    '-cert_chain',
    layout.issuingCert,
    '-CAfile',
    layout.rootCert,
    '-Verify',
    '3',
    '-verify_return_error',
    '-CRL',
    layout.issuingCrl,
    '-crl_check',
    '-no_ticket',
    '-num_tickets',
    '0',
    '-rev',
    '-quiet',
  ];
  const child = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  const stop = stopper(child);
  await waitForPort(port, child, 10_000).catch(async (error) => {
    await stop();
    throw error;
  });
  return { name: 'openssl-s_server', port, pid: child.pid!, probe: 'line', stop };
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
    if (child.exitCode !== null)
      throw new Error(`${child.spawnfile} exited (${child.exitCode}) before listening`);
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
  throw new Error(`${child.spawnfile} did not listen on ${port} within ${deadlineMs} ms`);
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
  return { name: 'mosquitto', port, pid: child.pid!, probe: 'mqtt', stop };
}

export function startBrokerByName(
  stateDir: string,
  name: BrokerName,
  cpuProfDir?: string,
): Promise<BrokerUnderTest> {
  if (name === 'mosquitto') return startMosquitto(stateDir);
  if (name === 'bare-tls') return startBareTls(stateDir);
  if (name === 'openssl-s_server') return startOpensslServer(stateDir);
  return startCertfleet(stateDir, {
    authorization: name !== 'certfleet-noauth',
    ...(cpuProfDir !== undefined && { cpuProfDir }),
  });
}
