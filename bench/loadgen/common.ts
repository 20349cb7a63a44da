/** What every load generator shares: its parameters file, the marks protocol, TLS contexts built once. */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { LoadIdentity } from '../lib/bench-pki.ts';

export function readParams<T>(): T {
  const file = process.argv[2];
  if (!file) throw new Error('usage: <loadgen>.ts <params.json>');
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function emit(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** One secure context per identity, built once: parsing PEM per connection would be load-generator cost. */
export function secureContexts(ca: string, identities: readonly LoadIdentity[]): tls.SecureContext[] {
  const caPem = readFileSync(ca);
  return identities.map((identity) =>
    tls.createSecureContext({
      ca: caPem,
      cert: readFileSync(identity.chain),
      key: readFileSync(identity.key),
    }),
  );
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
