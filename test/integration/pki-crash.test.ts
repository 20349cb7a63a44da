/**
 * kill -9 during a bulk issue (`certfleet pki issue --count N` as a real child process), at 20 points chosen by a
 * fixed seed: afterwards every certificate our CA signed that is on disk is in `pki list` with its serial, nothing
 * half-written is left, each can be revoked, and a real broker refuses a revoked one.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIdentityFiles } from '../../pki/identity-files.ts';
import { LeafTemplates, makeLeaf } from '../../pki/issue.ts';
import { loadIssuingCa } from '../../pki/authority.ts';
import {
  initPki,
  listIdentities,
  onPkiNotice,
  pkiLayout,
  revokeIdentity,
  showIdentity,
} from '../../pki/index.ts';
import { connectAs, runCleanups, startTestBroker } from '../helpers/broker-fixture.ts';
import { CERTFLEET, makeStateDir } from '../helpers/pki-fixture.ts';

const ROUNDS = 20;
const COUNT = 40;
const SEED = 0x10c0ffee;

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
const cleanups: (() => Promise<void>)[] = [];
const notices: string[] = [];

beforeAll(async () => {
  const state = await makeStateDir('certfleet-crash-');
  stateDir = state.dir;
  cleanups.push(state.cleanup);
  await initPki(stateDir);
  const unsubscribe = onPkiNotice((message) => notices.push(message));
  cleanups.push(async () => void unsubscribe());
}, 120_000);
afterAll(() => runCleanups(cleanups));

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Every certificate in an identity folder that our issuing CA signed: id → serial. */
async function certificatesSignedByOurCa(): Promise<Map<string, string>> {
  const layout = pkiLayout(stateDir);
  const issuing = new X509Certificate(await readFile(layout.issuingCert));
  const found = new Map<string, string>();
  for (const id of await readdir(layout.identitiesDir)) {
    const pem = await readFile(join(layout.identitiesDir, id, 'cert.pem'), 'utf8').catch(() => null);
    if (pem === null) continue;
    const cert = new X509Certificate(pem);
    if (cert.checkIssued(issuing) && cert.verify(issuing.publicKey))
      found.set(id, cert.serialNumber.toUpperCase());
  }
  return found;
}

async function leftovers(): Promise<string[]> {
  const layout = pkiLayout(stateDir);
  const all = await readdir(layout.pkiDir, { recursive: true });
  return all.filter((path) => path.endsWith('.tmp') || path.endsWith('issue-journal.json'));
}

/** Runs `pki issue --count COUNT` and SIGKILLs it `delayMs` after `from` resolves. */
async function issueAndKill(prefix: string, from: 'spawn' | 'journal', delayMs: number) {
  const child = spawn(
    process.execPath,
    [CERTFLEET, '--state-dir', stateDir, 'pki', 'issue', '--count', String(COUNT), '--prefix', prefix],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let finished = false;
  void exited.then(() => {
    finished = true;
  });
  const started = Date.now();
  if (from === 'journal') {
    const journal = pkiLayout(stateDir).journal;
    while (!finished && !(await exists(journal)) && Date.now() - started < 30_000) await sleep(2);
  }
  await Promise.race([sleep(delayMs), exited]);
  const killedAfter = Date.now() - started;
  const killed = !finished && child.kill('SIGKILL');
  const code = await exited;
  return { killed, killedAfter, code, stderr };
}

describe('kill -9 during a bulk issue', () => {
  it(`${ROUNDS} kills at seeded random points leave every signed certificate listed and revocable`, async () => {
    const next = random(SEED);
    const calibration = await issueAndKill('cal-', 'spawn', 120_000);
    expect(calibration.code).toBe(0);
    const fullRunMs = calibration.killedAfter;
    const rows: string[][] = [];
    const victims: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = `sensor-r${String(round).padStart(2, '0')}-`;
      // Half the kills anywhere in the process's life, half inside the commit (journal → CRL → index → files).
      const from = round % 2 === 0 ? 'spawn' : 'journal';
      // (The commit is the last fifth of a run: "anywhere" leans late so that some kills land in it too.)
      const delay = Math.floor(from === 'spawn' ? fullRunMs * (0.4 + 0.7 * next()) : 150 * next());
      const result = await issueAndKill(prefix, from, delay);
      const journalLeft = await exists(pkiLayout(stateDir).journal);
      const onDiskBefore = [...(await certificatesSignedByOurCa()).keys()].filter((id) =>
        id.startsWith(prefix),
      );
      const noticesBefore = notices.length;
      const listed = new Map((await listIdentities(stateDir)).map((info) => [info.id, info]));
      const signed = await certificatesSignedByOurCa();
      for (const [id, serial] of signed) {
        expect(listed.get(id)?.serial, `${id} is on disk, signed by our CA`).toBe(
          serial.replace(/^(00)+/, ''),
        );
        expect(listed.get(id)?.status).not.toBe('corrupt');
      }
      expect(await leftovers()).toEqual([]);
      const mine = [...signed.keys()].filter((id) => id.startsWith(prefix)).sort();
      if (mine.length > 0) victims.push(mine[mine.length - 1]!);
      rows.push([
        String(round),
        from === 'spawn' ? `${delay} ms after start` : `${delay} ms into commit`,
        result.killed
          ? 'SIGKILL'
          : `exited ${result.code}${result.code ? `: ${result.stderr.split('\n')[0]}` : ''}`,
        journalLeft ? 'yes' : 'no',
        String(onDiskBefore.length),
        String(mine.length),
        String(notices.length - noticesBefore),
      ]);
    }
    // Every round's last certificate on disk (the likeliest to have been caught mid-write) is revoked.
    for (const id of victims) {
      const { identity } = await revokeIdentity(stateDir, id);
      expect(identity.status).toBe('revoked');
    }
    const header = ['round', 'kill point', 'outcome', 'journal left', 'certs on disk', 'listed', 'repairs'];
    console.log(
      `\nkill -9 during \`pki issue --count ${COUNT}\` (seed ${SEED.toString(16)}, full run ${fullRunMs} ms)\n${[
        header,
        ...rows,
      ]
        .map((row) => `| ${row.join(' | ')} |`)
        .join(
          '\n',
        )}\nrepairs said:\n  ${[...new Set(notices.map((n) => n.replace(/'[^']+'/, "'…'").replace(/serial [0-9A-F]+/, 'serial …')))].join('\n  ')}\n`,
    );
    expect(victims.length).toBeGreaterThan(0);
    expect(rows.filter((row) => row[2] === 'SIGKILL').length).toBeGreaterThanOrEqual(ROUNDS / 2);

    // A real broker and a real TLS client: a revoked survivor is refused, an untouched one is served.
    const { broker, waitFor } = await startTestBroker(
      stateDir,
      { auditFile: join(stateDir, 'crash-audit.jsonl') },
      cleanups,
    );
    const revoked = await connectAs(broker, stateDir, victims[0]!, {}, cleanups);
    expect(revoked.connected).toBe(false);
    const refusal = await waitFor((r) => r.cn === victims[0] && r.event.endsWith('-refused'));
    expect(refusal.reason).toBe('REVOKED');
    const survivor = [...(await certificatesSignedByOurCa()).keys()].find(
      (id) => id.startsWith('sensor-r') && !victims.includes(id),
    );
    expect((await showIdentity(stateDir, survivor!)).status).toBe('valid');
    const served = await connectAs(broker, stateDir, survivor!, {}, cleanups);
    expect(served.connected).toBe(true);
  }, 400_000);
});

describe('an orphan left by a crash before the journal existed', () => {
  it('is adopted by `pki list` and can then be revoked', async () => {
    // What the old code left after kill -9: the files, signed and usable, and no index entry.
    const layout = pkiLayout(stateDir);
    const ca = await loadIssuingCa(layout);
    const { material } = await makeLeaf(new LeafTemplates(ca), ca, {
      id: 'orphan-001',
      role: 'device',
      profile: 'client',
      keyType: 'ec',
      days: 30,
    });
    await writeIdentityFiles(layout, material);
    await expect(showIdentity(stateDir, 'orphan-001')).rejects.toThrow(/unknown identity/);
    const listed = (await listIdentities(stateDir)).find((info) => info.id === 'orphan-001');
    expect(listed).toMatchObject({ role: 'device', status: 'valid' });
    expect(notices.some((n) => n.includes("adopted 'orphan-001'"))).toBe(true);
    expect((await revokeIdentity(stateDir, 'orphan-001')).identity.status).toBe('revoked');
  });
});
