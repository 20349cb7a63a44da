import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** What the figures were measured on: every result file carries it. */
export function describeMachine(): Record<string, string | number> {
  const opensslVersion = (() => {
    try {
      return execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'not found';
    }
  })();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    nodeOpenssl: process.versions.openssl ?? 'unknown',
    openssl: opensslVersion,
    date: new Date().toISOString(),
  };
}

/** `openssl speed` for one algorithm on one core: operations per second, e.g. { sign, verify }. */
export function opensslSpeed(
  algorithm: 'ecdsap256' | 'rsa2048',
  seconds = 2,
): { sign: number; verify: number } {
  const output = execFileSync('openssl', ['speed', '-seconds', String(seconds), algorithm], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // The last line: "<bits> bits <name> <sign s> <verify s> <sign/s> <verify/s>" (or "rsa 2048 bits …").
  const line = output.trim().split('\n').at(-1)!.trim().split(/\s+/);
  const verify = Number(line.at(-1));
  const sign = Number(line.at(-2));
  return { sign, verify };
}
