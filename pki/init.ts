import { X509Certificate } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.ts';
import type { CertificateAuthority } from './authority.ts';
import { buildCertificate } from './certificate-builder.ts';
import { writeCrls } from './crl-files.ts';
import { DEFAULT_POLICY_YAML } from './default-policy.ts';
import { emptyIndex, withPkiLock, writeIndex } from './index-file.ts';
import { issueLeaves } from './issue.ts';
import { generateKeys, privateKeyPem } from './keys.ts';
import { pkiLayout } from './layout.ts';
import { type ImportedCa, writeExternalCa } from './import-ca.ts';
import type { PkiLayout } from './types.ts';

const YEAR_MS = 365 * 86_400_000;
export const ROOT_NAME = { commonName: 'certfleet Root CA', organizationName: 'certfleet' };
export const ISSUING_NAME = { commonName: 'certfleet Issuing CA 1', organizationName: 'certfleet' };
export const SERVER_SANS = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] };

export interface InitOptions {
  force?: boolean;
  /** A CA the user brings (pki/import-ca.ts): with its key it replaces our root, without it is recorded as external. */
  importCa?: ImportedCa;
  onProgress?: (message: string) => void;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Root CA (RSA-3072, signs only the issuing CA and its CRL; or the user's own CA) → issuing CA (EC P-256: thousands
 * of device certificates per second) → the broker's `server` identity and the UI's `dashboard` identity.
 */
async function createAuthorities(
  layout: PkiLayout,
  progress: (message: string) => void,
  imported?: ImportedCa,
): Promise<{ root: CertificateAuthority; issuing: CertificateAuthority }> {
  const root = imported?.authority ? await importRoot(layout, imported) : await createRoot(layout, progress);
  progress('creating the issuing CA (EC P-256)…');
  const issuing = await createIssuing(layout, root, new Date(Date.now() - 5 * 60_000));
  if (imported && !imported.authority) await writeExternalCa(layout, imported);
  return { root, issuing };
}

async function createRoot(
  layout: PkiLayout,
  progress: (message: string) => void,
): Promise<CertificateAuthority> {
  progress('generating the root CA key (RSA-3072)…');
  const rootKeys = await generateKeys('rsa', 3072);
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const rootCert = await buildCertificate({
    subject: ROOT_NAME,
    publicKey: rootKeys.publicKey,
    issuer: { name: ROOT_NAME, ...rootKeys },
    profile: 'root-ca',
    notBefore,
    notAfter: new Date(notBefore.getTime() + 10 * YEAR_MS),
  });
  await writeFileAtomic(layout.rootKey, privateKeyPem(rootKeys.privateKey), 0o400);
  await writeFileAtomic(layout.rootCert, rootCert.pem);
  return { ...rootKeys, certDer: rootCert.der, certPem: rootCert.pem };
}

/** The user's CA in the root's place (its key 0400, like ours). */
async function importRoot(layout: PkiLayout, imported: ImportedCa): Promise<CertificateAuthority> {
  await writeFileAtomic(layout.rootKey, imported.keyPem!, 0o400);
  await writeFileAtomic(layout.rootCert, imported.certPem);
  return imported.authority!;
}

async function createIssuing(
  layout: PkiLayout,
  root: CertificateAuthority,
  notBefore: Date,
): Promise<CertificateAuthority> {
  const issuingKeys = await generateKeys('ec');
  const issuingCert = await buildCertificate({
    subject: ISSUING_NAME,
    publicKey: issuingKeys.publicKey,
    issuer: root,
    profile: 'issuing-ca',
    notBefore,
    // Never beyond the root: a chain is only as valid as its shortest-lived CA.
    notAfter: new Date(
      Math.min(notBefore.getTime() + 5 * YEAR_MS, Date.parse(new X509Certificate(root.certPem).validTo)),
    ),
  });
  await writeFileAtomic(layout.issuingKey, privateKeyPem(issuingKeys.privateKey), 0o400);
  await writeFileAtomic(layout.issuingCert, issuingCert.pem);
  await writeFileAtomic(layout.caBundle, root.certPem + issuingCert.pem);
  return { ...issuingKeys, certDer: issuingCert.der, certPem: issuingCert.pem };
}

/**
 * Builds the whole PKI in a scratch directory and renames it into place, so a crash or Ctrl-C half-way leaves
 * either no PKI or a complete one. An existing PKI is kept unless `force`; with `force` it is moved aside, not deleted.
 */
export async function initPki(
  stateDir: string,
  options: InitOptions = {},
): Promise<{ created: boolean; layout: PkiLayout; backup?: string }> {
  const layout = pkiLayout(stateDir);
  const progress = options.onProgress ?? (() => {});
  await mkdir(layout.stateDir, { recursive: true });
  return withPkiLock(layout, async () => {
    const present = await exists(layout.index);
    if (present && !options.force) return { created: false, layout };
    const scratchDir = join(layout.stateDir, `.pki-init-${process.pid}`);
    await rm(scratchDir, { recursive: true, force: true });
    const scratch = pkiLayout(stateDir, scratchDir);
    try {
      const cas = await createAuthorities(scratch, progress, options.importCa);
      const index = emptyIndex();
      await writeCrls(scratch, index, cas);
      await writeIndex(scratch, index);
      progress('issuing the broker (server) and dashboard identities…');
      await issueLeaves(
        scratch,
        [
          {
            id: 'server',
            role: 'server',
            profile: 'server',
            keyType: 'ec',
            days: 825,
            subjectAltNames: SERVER_SANS,
          },
          { id: 'dashboard', role: 'dashboard', profile: 'client', keyType: 'ec', days: 825 },
        ],
        { force: true, lockHeld: true },
      );
    } catch (error) {
      await rm(scratchDir, { recursive: true, force: true });
      throw error;
    }
    let backup: string | undefined;
    if (await exists(layout.pkiDir)) {
      backup = `${layout.pkiDir}.backup-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(layout.pkiDir, backup);
    }
    await rename(scratchDir, layout.pkiDir);
    if (!(await exists(layout.policy))) await writeFileAtomic(layout.policy, DEFAULT_POLICY_YAML);
    return { created: true, layout, ...(backup ? { backup } : {}) };
  });
}

/** The PKI, created on first use. */
export async function ensurePki(stateDir: string, options: InitOptions = {}): Promise<PkiLayout> {
  const layout = pkiLayout(stateDir);
  if (await exists(layout.index)) return layout;
  return (await initPki(stateDir, options)).layout;
}
