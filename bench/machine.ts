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

export interface CryptoSpeeds {
  ecdsaP256: { sign: number; verify: number };
  rsa2048: { sign: number; verify: number };
  rsa3072: { sign: number; verify: number };
  /** One X25519 operation (key generation or derivation cost the same). */
  x25519: number;
}

/**
 * Every public-key operation a TLS 1.3 handshake of our PKI needs, from one `openssl speed` call (operations per
 * CPU-second of user time on one core: openssl's default divisor, so other load on the machine does not skew it).
 */
export function opensslHandshakeSpeeds(seconds = 1): CryptoSpeeds {
  const output = execFileSync(
    'openssl',
    ['speed', '-seconds', String(seconds), 'ecdsap256', 'rsa2048', 'rsa3072', 'ecdhx25519'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const pair = (pattern: RegExp) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`openssl speed: no line matching ${pattern}`);
    return { sign: Number(match[1]), verify: Number(match[2]) };
  };
  const x25519 = /ecdh \(X25519\)\s+\S+\s+([\d.]+)/.exec(output);
  if (!x25519) throw new Error('openssl speed: no X25519 line');
  return {
    ecdsaP256: pair(/ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/),
    rsa2048: pair(/rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/),
    rsa3072: pair(/rsa 3072 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/),
    x25519: Number(x25519[1]),
  };
}
