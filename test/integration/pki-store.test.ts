import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  initPki,
  pkiLayout,
  readCrl,
  refreshCrlsIfDue,
  revokeIdentity,
  showIdentity,
} from '../../pki/index.ts';
import { buildCrl } from '../../pki/crl.ts';
import { loadIssuingCa } from '../../pki/authority.ts';
import { certfleet, makeStateDir } from '../helpers/pki-fixture.ts';

let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir());
  const init = await certfleet(stateDir, ['pki', 'init']);
  expect(init.code).toBe(0);
}, 120_000);
afterAll(() => cleanup?.());

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((entry) => join(dir, entry));
}

describe('the store', { timeout: 180_000 }, () => {
  it('keeps CA keys 0400 and leaf keys 0600', async () => {
    const layout = pkiLayout(stateDir);
    expect(await mode(layout.rootKey)).toBe(0o400);
    expect(await mode(layout.issuingKey)).toBe(0o400);
    expect(await mode((await showIdentity(stateDir, 'server')).paths.key)).toBe(0o600);
    expect(await mode((await showIdentity(stateDir, 'dashboard')).paths.key)).toBe(0o600);
  });

  it('pki init twice keeps the existing CA', async () => {
    const before = await readFile(pkiLayout(stateDir).rootCert, 'utf8');
    const again = await certfleet(stateDir, ['pki', 'init']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already exists');
    expect(await readFile(pkiLayout(stateDir).rootCert, 'utf8')).toBe(before);
  });

  it('10 concurrent issuers: every process succeeds, serials are unique, the index is whole', async () => {
    // Ten processes start at once on a machine that may run several test files: each one alone costs a couple of
    // CPU-seconds (node + tsx + the CLI), so on a loaded 2-core machine the ten together take minutes, not seconds.
    // Nothing here can wait forever (a waiter gives up on the PKI lock after 120 s and says so), so the kill
    // timeout is only the last resort, kept under the test's own.
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, p) =>
        certfleet(stateDir, ['pki', 'issue', '--count', '5', '--prefix', `proc${p}-`], { timeout: 270_000 }),
      ),
    );
    for (const result of runs) expect(result.stderr).toBe('');
    expect(runs.map((result) => result.code)).toEqual(new Array(10).fill(0));
    const index = JSON.parse(await readFile(pkiLayout(stateDir).index, 'utf8'));
    const devices = Object.values(index.identities as Record<string, { id: string; serial: string }>).filter(
      (entry) => entry.id.startsWith('proc'),
    );
    expect(devices).toHaveLength(50);
    expect(new Set(devices.map((entry) => entry.serial)).size).toBe(50);
    for (const entry of devices) expect((await showIdentity(stateDir, entry.id)).serial).toBe(entry.serial);
    const leftovers = (await filesBelow(pkiLayout(stateDir).pkiDir)).filter((path) => path.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  }, 300_000);

  it('revocation re-signs the CRL with a higher number and lists the serial', async () => {
    const layout = pkiLayout(stateDir);
    const before = JSON.parse(await readFile(layout.index, 'utf8')).crls.issuing.number;
    const { identity } = await revokeIdentity(stateDir, 'proc0-001');
    expect(identity.status).toBe('revoked');
    expect(readCrl(await readFile(layout.issuingCrl, 'utf8')).revokedSerials).toContain(identity.serial);
    expect(JSON.parse(await readFile(layout.index, 'utf8')).crls.issuing.number).toBe(before + 1);
    const again = await certfleet(stateDir, ['pki', 'revoke', 'proc0-001']);
    expect(again.stdout).toContain('already revoked');
  });

  it('re-signs CRLs that are close to their nextUpdate, and leaves fresh ones alone', async () => {
    const layout = pkiLayout(stateDir);
    expect(await refreshCrlsIfDue(stateDir)).toBe(false);
    const ca = await loadIssuingCa(layout);
    const nearlyStale = await buildCrl({
      issuerCertDer: ca.certDer,
      issuerPublicKey: ca.publicKey,
      issuerPrivateKey: ca.privateKey,
      crlNumber: 1,
      thisUpdate: new Date(Date.now() - 6 * 86_400_000),
      nextUpdate: new Date(Date.now() + 3_600_000),
      revoked: [],
    });
    await writeFile(layout.issuingCrl, nearlyStale);
    expect(await refreshCrlsIfDue(stateDir)).toBe(true);
    const refreshed = readCrl(await readFile(layout.issuingCrl, 'utf8'));
    expect(refreshed.nextUpdate.getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    expect(refreshed.revokedSerials).toContain((await showIdentity(stateDir, 'proc0-001')).serial);
  });
});

// Each test here runs the CLI several times, each run a fresh node + tsx process (seconds of CPU on a loaded machine).
describe('errors a user can fix', { timeout: 180_000 }, () => {
  it('issuing without a CA says to run pki init', async () => {
    const empty = await makeStateDir();
    try {
      const result = await certfleet(empty.dir, ['pki', 'issue', 'sensor-001']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^ERROR: no certificate authority: .*does not exist\nRun `certfleet pki init` first\.\n$/,
      );
    } finally {
      await empty.cleanup();
    }
  });

  it('a bad id is quoted and nothing is written', async () => {
    const result = await certfleet(stateDir, ['pki', 'issue', 'ok-1', 'bad/id']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ERROR: invalid identity name: 'bad/id'");
    expect(result.stderr).not.toContain('    at ');
    expect((await certfleet(stateDir, ['pki', 'show', 'ok-1'])).code).toBe(1);
  });

  it('an identity name with an inner space is issued, with exactly that CN; a trailing space is refused', async () => {
    const issued = await certfleet(stateDir, ['pki', 'issue', 'clean retained']);
    expect(issued.code).toBe(0);
    const info = await showIdentity(stateDir, 'clean retained');
    const { X509Certificate } = await import('node:crypto');
    const cert = new X509Certificate(await readFile(info.paths.cert));
    expect(cert.subject).toBe('CN=clean retained');
    const trailing = await certfleet(stateDir, ['pki', 'issue', 'trailing ']);
    expect(trailing.code).toBe(1);
    expect(trailing.stderr).toContain("ERROR: invalid identity name: 'trailing '");
  });

  it('an existing id is refused without --force and replaced with it', async () => {
    expect((await certfleet(stateDir, ['pki', 'issue', 'sensor-dup'])).code).toBe(0);
    const serial = (await showIdentity(stateDir, 'sensor-dup')).serial;
    const refused = await certfleet(stateDir, ['pki', 'issue', 'sensor-dup']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("ERROR: identity already exists: 'sensor-dup'");
    expect((await showIdentity(stateDir, 'sensor-dup')).serial).toBe(serial);
    expect((await certfleet(stateDir, ['pki', 'issue', 'sensor-dup', '--force'])).code).toBe(0);
    expect((await showIdentity(stateDir, 'sensor-dup')).serial).not.toBe(serial);
  });

  it('a corrupt index is named and left as it is', async () => {
    const scratch = await makeStateDir();
    try {
      await initPki(scratch.dir);
      const index = pkiLayout(scratch.dir).index;
      await writeFile(index, '{"version": 1, "identities": {');
      const result = await certfleet(scratch.dir, ['pki', 'list']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`ERROR: the PKI index is corrupt: ${index}`);
      expect(await readFile(index, 'utf8')).toBe('{"version": 1, "identities": {');
    } finally {
      await scratch.cleanup();
    }
  });

  it('show --json is the documented contract', async () => {
    const result = await certfleet(stateDir, ['pki', 'show', 'dashboard', '--json']);
    expect(result.code).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(Object.keys(info).sort()).toEqual([
      'commonName',
      'extKeyUsage',
      'fingerprint256',
      'id',
      'issuer',
      'keyType',
      'keyUsage',
      'notAfter',
      'notBefore',
      'paths',
      'role',
      'serial',
      'status',
      'subject',
      'subjectAltNames',
    ]);
    expect(info).toMatchObject({
      id: 'dashboard',
      role: 'dashboard',
      commonName: 'dashboard',
      keyType: 'ec-p256',
      extKeyUsage: ['clientAuth'],
      status: 'valid',
    });
    expect(Object.keys(info.paths).sort()).toEqual(['ca', 'cert', 'chain', 'key']);
    for (const path of Object.values(info.paths) as string[]) expect(path.startsWith('/')).toBe(true);
  });
});

describe('a state dir without a PKI', () => {
  it('refreshCrlsIfDue says to run pki init instead of waiting on a lock', async () => {
    await expect(refreshCrlsIfDue('/nonexistent/certfleet-state')).rejects.toThrow(
      /no certificate authority/,
    );
    const empty = await makeStateDir();
    try {
      await expect(refreshCrlsIfDue(empty.dir)).rejects.toThrow(/no certificate authority/);
    } finally {
      await empty.cleanup();
    }
  });
});
