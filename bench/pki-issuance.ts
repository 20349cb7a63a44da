import { generateKeyPair } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { initPki, issueIdentities } from '../pki/index.ts';
import { opensslSpeed } from './machine.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface IssuanceRun {
  label: string;
  count: number;
  seconds: number;
  perSecond: number;
  /** Longest event-loop stall while issuing, in ms. */
  maxStallMs: number;
}

async function timedIssue(
  stateDir: string,
  label: string,
  ids: string[],
  keyType: 'ec' | 'rsa',
  oneAtATime = false,
): Promise<IssuanceRun> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  if (oneAtATime) for (const id of ids) await issueIdentities(stateDir, [id], { keyType });
  else await issueIdentities(stateDir, ids, { keyType });
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  return { label, count: ids.length, seconds, perSecond: ids.length / seconds, maxStallMs: delay.max / 1e6 };
}

async function rawRsaKeygenPerSecond(count: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, () => generateKeyPairAsync('rsa', { modulusLength: 2048 })),
  );
  return count / ((performance.now() - started) / 1000);
}

async function withStateDir<T>(base: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(base, 'certfleet-bench-'));
  try {
    await initPki(dir);
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Identities (key + certificate + chain written + indexed) per second. References measured in the same run:
 * `openssl speed ecdsap256` signatures/s on one core (an EC identity needs one), and raw RSA-2048 key generation
 * through node:crypto on all cores (an RSA identity needs one).
 */
export async function benchPkiIssuance(options: { quick: boolean }) {
  const bulk = options.quick ? 300 : 1000;
  const rsaCount = options.quick ? 8 : 24;
  const ecSpeed = opensslSpeed('ecdsap256', options.quick ? 1 : 2);
  const runs: IssuanceRun[] = [];
  await withStateDir(tmpdir(), async (dir) => {
    runs.push(
      await timedIssue(
        dir,
        `EC P-256 bulk ${bulk} (disk)`,
        Array.from({ length: bulk }, (_, i) => `ec-${i}`),
        'ec',
      ),
    );
    runs.push(
      await timedIssue(
        dir,
        'EC P-256 one call per identity ×20',
        Array.from({ length: 20 }, (_, i) => `single-${i}`),
        'ec',
        true,
      ),
    );
    runs.push(
      await timedIssue(
        dir,
        `RSA-2048 bulk ${rsaCount}`,
        Array.from({ length: rsaCount }, (_, i) => `rsa-${i}`),
        'rsa',
      ),
    );
  });
  // The same bulk on tmpfs shows what the file system costs (each identity is three fsync'ed files and a rename each).
  const shm = '/dev/shm';
  const onTmpfs = await withStateDir(shm, (dir) =>
    timedIssue(
      dir,
      `EC P-256 bulk ${bulk} (tmpfs)`,
      Array.from({ length: bulk }, (_, i) => `ec-${i}`),
      'ec',
    ),
  ).catch(() => null);
  if (onTmpfs) runs.push(onTmpfs);
  const rsaKeygen = await rawRsaKeygenPerSecond(rsaCount);
  return {
    runs,
    references: { opensslEcdsaP256SignPerSecond: ecSpeed.sign, nodeRsa2048KeygenPerSecond: rsaKeygen },
    ratios: {
      ecBulkVsOpensslSign: runs[0]!.perSecond / ecSpeed.sign,
      rsaVsRawKeygen: runs[2]!.perSecond / rsaKeygen,
    },
  };
}
