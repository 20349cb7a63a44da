/**
 * Starts Debian's Mosquitto as an mTLS broker on a loopback port, configured from our PKI: the independent broker the
 * fleet must work against. The caller registers `stop` as cleanup the moment this resolves.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pkiLayout } from '../../pki/index.ts';

export interface RunningMosquitto {
  port: number;
  log: () => string;
  stop: () => Promise<void>;
}

/** A free loopback port: bind port 0, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `aclFile`: a Mosquitto ACL (`%u` is the certificate CN); without it every authenticated client may do anything.
 * `tls`: the broker's own CA list, certificate and key instead of our PKI's (a broker configured from another CA).
 * `passwordFile`: user names and passwords instead of the certificate's CN as the user name.
 */
export async function startMosquitto(
  stateDir: string,
  workDir: string,
  options: {
    aclFile?: string;
    tls?: { cafile: string; certfile: string; keyfile: string };
    /** A mosquitto_passwd file: clients need a user name and password besides the certificate. */
    passwordFile?: string;
  } = {},
): Promise<RunningMosquitto> {
  const layout = pkiLayout(stateDir);
  const port = await freePort();
  const config = join(workDir, 'mosquitto.conf');
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      `cafile ${options.tls?.cafile ?? layout.rootCert}`,
      `certfile ${options.tls?.certfile ?? join(layout.identitiesDir, 'server', 'chain.pem')}`,
      `keyfile ${options.tls?.keyfile ?? join(layout.identitiesDir, 'server', 'key.pem')}`,
      'require_certificate true',
      options.passwordFile ? `password_file ${options.passwordFile}` : 'use_identity_as_username true',
      ...(options.tls ? [] : [`crlfile ${layout.crlBundle}`]),
      'allow_anonymous false',
      'persistence false',
      ...(options.aclFile ? [`acl_file ${options.aclFile}`] : []),
      'log_dest stderr',
      'log_type all',
      'user root',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mosquitto did not start:\n${output}`)), 15_000);
    const check = () => {
      if (/Opening ipv4 listen socket on port/.test(output) || /mosquitto version .* running/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mosquitto exited with ${code}:\n${output}`));
    });
  });
  return {
    port,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
