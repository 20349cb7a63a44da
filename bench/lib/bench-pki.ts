/**
 * The PKI the benchmarks share: one state dir under the OS temp dir, kept between runs (RSA keys take a while to
 * generate), holding EC and RSA device identities whose CNs the default policy grants (`sensor-*`).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureIdentities, ensurePki, showIdentity } from '../../pki/index.ts';

export const BENCH_STATE_DIR = join(tmpdir(), 'certfleet-bench-state');

/** What a load generator needs to present one identity. */
export interface LoadIdentity {
  clientId: string;
  chain: string;
  key: string;
}

export interface BenchPki {
  stateDir: string;
  /** The root CA the clients trust. */
  ca: string;
  ec: LoadIdentity[];
  rsa: LoadIdentity[];
  dashboard: LoadIdentity;
}

const pad = (i: number) => String(i).padStart(4, '0');

export async function benchPki(
  counts: { ec: number; rsa: number },
  stateDir = BENCH_STATE_DIR,
): Promise<BenchPki> {
  const layout = await ensurePki(stateDir);
  const toLoad = (info: { id: string; paths: { chain: string; key: string } }): LoadIdentity => ({
    clientId: info.id,
    chain: info.paths.chain,
    key: info.paths.key,
  });
  const ec = await ensureIdentities(
    stateDir,
    Array.from({ length: counts.ec }, (_, i) => `sensor-ec-${pad(i)}`),
    { keyType: 'ec' },
  );
  const rsa = await ensureIdentities(
    stateDir,
    Array.from({ length: counts.rsa }, (_, i) => `sensor-rsa-${pad(i)}`),
    { keyType: 'rsa' },
  );
  const dashboard = await showIdentity(stateDir, 'dashboard');
  return {
    stateDir,
    ca: layout.rootCert,
    ec: ec.map(toLoad),
    rsa: rsa.map(toLoad),
    dashboard: toLoad(dashboard),
  };
}
