/**
 * kill -9 inside the commit of a bulk issue big enough for the batched path (leaf worker threads write every file to
 * a temporary name, one durability pass, the index, then the renames): at seeded points between the journal
 * appearing and disappearing — anywhere, while the workers write the temporaries, or once the renames have begun. On reopen every certificate our CA signed that is on disk is in the index with its
 * serial, next to its own whole key, and can be revoked; no temporary file or journal is left.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKERS_FROM_LEAVES } from '../../pki/issue.ts';
import { initPki, listIdentities, pkiLayout, readIndex, revokeIdentity } from '../../pki/index.ts';
import { CERTFLEET, makeStateDir } from '../helpers/pki-fixture.ts';

const ROUNDS = 6;
const COUNT = 3 * WORKERS_FROM_LEAVES;
const SEED = 0xb0c5;

/** mulberry32: a small seeded PRNG, so a failing kill point can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir('certfleet-crash-bulk-'));
  await initPki(stateDir);
}, 120_000);
afterAll(() => cleanup?.());

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** What a kill left, before anything reopens the store: this round's temporaries and final certificates. */
async function leftBehind(prefix: string): Promise<{ temps: number; certs: number }> {
  const { identitiesDir } = pkiLayout(stateDir);
  let temps = 0;
  let certs = 0;
  for (const id of (await readdir(identitiesDir)).filter((name) => name.startsWith(prefix))) {
    const names = await readdir(join(identitiesDir, id)).catch(() => [] as string[]);
    temps += names.filter((name) => name.endsWith('.tmp')).length;
    if (names.includes('cert.pem')) certs++;
  }
  return { temps, certs };
}

/** Every identity folder whose cert.pem our issuing CA signed: id → serial, and whether its key.pem matches. */
async function signedOnDisk(): Promise<Map<string, { serial: string; keyMatches: boolean }>> {
  const layout = pkiLayout(stateDir);
  const issuing = new X509Certificate(await readFile(layout.issuingCert));
  const found = new Map<string, { serial: string; keyMatches: boolean }>();
  for (const id of await readdir(layout.identitiesDir)) {
    const pem = await readFile(join(layout.identitiesDir, id, 'cert.pem'), 'utf8').catch(() => null);
    if (pem === null) continue;
    const cert = new X509Certificate(pem);
    if (!cert.checkIssued(issuing) || !cert.verify(issuing.publicKey)) continue;
    const keyPem = await readFile(join(layout.identitiesDir, id, 'key.pem'), 'utf8').catch(() => '');
    let keyMatches = false;
    try {
      keyMatches = cert.checkPrivateKey(createPrivateKey(keyPem));
    } catch {}
    found.set(id, { serial: cert.serialNumber.toUpperCase().replace(/^(00)+/, ''), keyMatches });
  }
  return found;
}

/**
 * `pki issue --count COUNT`, killed `delayMs` after its journal appears — or, `from: 'staging'`, after the first
 * identity's first temporary file appears; `from: 'renames'`, after its key is renamed into place — or run to the
 * end (delay Infinity).
 */
async function issueAndKillInCommit(
  prefix: string,
  delayMs: number,
  from: 'journal' | 'staging' | 'renames' = 'journal',
) {
  const child = spawn(
    process.execPath,
    [CERTFLEET, '--state-dir', stateDir, 'pki', 'issue', '--count', String(COUNT), '--prefix', prefix],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let finished = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      finished = true;
      resolve(code);
    }),
  );
  const { journal } = pkiLayout(stateDir);
  const started = Date.now();
  while (!finished && !(await exists(journal)) && Date.now() - started < 60_000) await sleep(1);
  const commitStarted = Date.now();
  const firstDir = join(pkiLayout(stateDir).identitiesDir, `${prefix}001`);
  const firstKey = join(firstDir, 'key.pem');
  const hasTemp = async () =>
    (await readdir(firstDir).catch(() => [] as string[])).some((name) => name.endsWith('.tmp'));
  if (from === 'staging')
    while (!finished && !(await hasTemp()) && Date.now() - started < 60_000) await sleep(0);
  if (from === 'renames')
    while (!finished && !(await exists(firstKey)) && Date.now() - started < 60_000) await sleep(0);
  if (Number.isFinite(delayMs)) await Promise.race([sleep(delayMs), exited]);
  else while (!finished && (await exists(journal))) await sleep(1);
  const commitMs = Date.now() - commitStarted;
  const killed = Number.isFinite(delayMs) && !finished && child.kill('SIGKILL');
  const code = await exited;
  return { killed, code, stderr, commitMs };
}

describe('kill -9 inside the commit of a batched bulk issue', () => {
  it(`${ROUNDS} kills between journal and its removal: every signed certificate on disk is indexed, whole and revocable`, async () => {
    const next = random(SEED);
    const calibration = await issueAndKillInCommit('cal-', Number.POSITIVE_INFINITY);
    expect(calibration.code, calibration.stderr).toBe(0);
    const commitMs = Math.max(20, calibration.commitMs);
    const rows: string[][] = [];
    const victims: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = `bulk-r${round}-`;
      // Anywhere in the commit; while the workers write the temporaries (tens of ms); once the renames have begun
      // (a few ms).
      const from = (['journal', 'staging', 'renames'] as const)[round % 3]!;
      const delay = Math.floor(
        from === 'journal' ? commitMs * 1.2 * next() : from === 'staging' ? 30 * next() : 6 * next(),
      );
      const result = await issueAndKillInCommit(prefix, delay, from);
      const journalLeft = await exists(pkiLayout(stateDir).journal);
      const left = await leftBehind(prefix);
      const listed = new Map((await listIdentities(stateDir)).map((info) => [info.id, info]));
      const index = await readIndex(pkiLayout(stateDir));
      const signed = await signedOnDisk();
      for (const [id, { serial, keyMatches }] of signed) {
        expect(listed.get(id)?.serial, `${id} is on disk, signed by our CA`).toBe(serial);
        expect(index.identities[id]?.serial).toBe(serial);
        expect(listed.get(id)?.status).not.toBe('corrupt');
        expect(keyMatches, `${id}: its key.pem is its own, whole key`).toBe(true);
      }
      const all = await readdir(pkiLayout(stateDir).pkiDir, { recursive: true });
      expect(all.filter((path) => path.endsWith('.tmp') || path.endsWith('issue-journal.json'))).toEqual([]);
      const mine = [...signed.keys()].filter((id) => id.startsWith(prefix)).sort();
      if (mine.length > 0) victims.push(mine[mine.length - 1]!);
      rows.push([
        String(round),
        `${delay} ms into ${from === 'journal' ? 'the commit' : from === 'staging' ? 'the temporaries' : 'the renames'}`,
        result.killed ? 'SIGKILL' : `exited ${result.code}`,
        journalLeft ? 'yes' : 'no',
        String(left.temps),
        String(left.certs),
        String(mine.length),
      ]);
    }
    const revoked = [];
    for (const id of victims) {
      const { identity } = await revokeIdentity(stateDir, id);
      expect(identity.status).toBe('revoked');
      revoked.push(identity.serial);
    }
    const crl = (await readIndex(pkiLayout(stateDir))).crls.issuing.revoked.map((entry) => entry.serialHex);
    expect(revoked.filter((serial) => !crl.includes(serial))).toEqual([]);
    const header = [
      'round',
      'kill point',
      'outcome',
      'journal left',
      'temp files left',
      'certs left',
      'listed',
    ];
    console.log(
      `\nkill -9 inside the commit of \`pki issue --count ${COUNT}\` (seed ${SEED.toString(16)}, full commit ${commitMs} ms)\n${[
        header,
        ...rows,
      ]
        .map((row) => `| ${row.join(' | ')} |`)
        .join('\n')}\n`,
    );
    expect(rows.filter((row) => row[2] === 'SIGKILL').length).toBeGreaterThanOrEqual(ROUNDS / 2);
  }, 300_000);
});
