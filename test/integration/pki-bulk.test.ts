/**
 * The bulk path of issuance (leaf worker threads, one durability pass for the batch, facts of the new certificates
 * computed rather than read back) gives exactly what the one-by-one path gives: whole files with the right modes,
 * certificates our issuing CA signed around the right keys, and `pki show` saying the same as the issue call.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIdentitiesWithSan, identitySan } from '../../pki/identity-san.ts';
import { WORKERS_FROM_LEAVES } from '../../pki/issue.ts';
import { leafWorkerCount, runningLeafWorkers } from '../../pki/leaf-pool.ts';
import {
  type IdentityInfo,
  initPki,
  issueIdentities,
  pkiLayout,
  readIndex,
  showIdentity,
} from '../../pki/index.ts';
import { makeStateDir } from '../helpers/pki-fixture.ts';

let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir('certfleet-bulk-'));
  await initPki(stateDir);
}, 120_000);
afterAll(() => cleanup?.());

async function expectWhole(issued: IdentityInfo[]): Promise<void> {
  const layout = pkiLayout(stateDir);
  const issuing = new X509Certificate(await readFile(layout.issuingCert));
  const index = await readIndex(layout);
  for (const info of issued) {
    expect(await showIdentity(stateDir, info.id), `${info.id}: what the issue call said`).toEqual(info);
    expect((await stat(info.paths.key)).mode & 0o777).toBe(0o600);
    const certPem = await readFile(info.paths.cert, 'utf8');
    const cert = new X509Certificate(certPem);
    expect(cert.checkIssued(issuing) && cert.verify(issuing.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(info.paths.key, 'utf8')))).toBe(true);
    expect(await readFile(info.paths.chain, 'utf8')).toBe(
      certPem + (await readFile(layout.issuingCert, 'utf8')),
    );
    expect(index.identities[info.id]?.serial).toBe(info.serial);
  }
  const all = await readdir(layout.pkiDir, { recursive: true });
  expect(all.filter((path) => path.endsWith('.tmp') || path.endsWith('issue-journal.json'))).toEqual([]);
}

describe('bulk issuance', () => {
  it('a batch big enough for the worker threads: every identity whole, indexed, and shown as issued', async () => {
    const ids = Array.from(
      { length: WORKERS_FROM_LEAVES + 16 },
      (_, i) => `bulk-${String(i).padStart(3, '0')}`,
    );
    const issued = await issueIdentities(stateDir, ids);
    expect(issued.map((info) => info.id)).toEqual(ids);
    expect(new Set(issued.map((info) => info.serial)).size).toBe(ids.length);
    expect(issued.every((info) => info.keyType === 'ec-p256' && info.status === 'valid')).toBe(true);
    expect(runningLeafWorkers(), 'the batch started the leaf worker threads').toBe(leafWorkerCount());
    await expectWhole(issued);
  }, 60_000);

  it('a small batch on the calling thread, RSA and EC: the same guarantees', async () => {
    const ec = await issueIdentities(stateDir, ['small-ec-1', 'small-ec-2']);
    const rsa = await issueIdentities(stateDir, ['small-rsa-1'], { keyType: 'rsa' });
    expect(rsa[0]!.keyType).toBe('rsa-2048');
    expect(rsa[0]!.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(ec[0]!.keyUsage).toEqual(['digitalSignature']);
    await expectWhole([...ec, ...rsa]);
  }, 60_000);

  it('a bulk batch where every leaf has its own SAN (a template each) carries each name', async () => {
    const ids = Array.from(
      { length: WORKERS_FROM_LEAVES + 2 },
      (_, i) => `san-${String(i).padStart(3, '0')}`,
    );
    const issued = await ensureIdentitiesWithSan(stateDir, ids, 'san-uri');
    for (const info of issued) expect(info.subjectAltNames).toEqual([identitySan(info.id, 'san-uri')]);
    await expectWhole(issued);
  }, 60_000);

  it('--force over a bulk batch revokes every certificate it replaces', async () => {
    const ids = Array.from({ length: WORKERS_FROM_LEAVES }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    const before = await readIndex(pkiLayout(stateDir));
    const oldSerials = ids.map((id) => before.identities[id]!.serial);
    const again = await issueIdentities(stateDir, ids, { force: true });
    await expectWhole(again);
    const revoked = new Set(
      (await readIndex(pkiLayout(stateDir))).crls.issuing.revoked.map((r) => r.serialHex),
    );
    expect(oldSerials.filter((serial) => !revoked.has(serial))).toEqual([]);
    expect(again.some((info) => revoked.has(info.serial))).toBe(false);
  }, 60_000);
});
