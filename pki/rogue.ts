import { access } from 'node:fs/promises';
import { loadIssuingCa, type CertificateAuthority } from './authority.ts';
import { describeIdentity } from './catalog.ts';
import {
  buildCertificate,
  type CertificateProfile,
  type Issuer,
  type NameAttributes,
} from './certificate-builder.ts';
import type { HashName } from './der.ts';
import type { IndexEntry } from './index-file.ts';
import { withPkiLock } from './index-file.ts';
import type { IdentityMaterial } from './identity-files.ts';
import { commitIdentities } from './issue.ts';
import { openStore, reconcileLocked } from './recovery.ts';
import { SERVER_SANS } from './init.ts';
import { makeImpostorOf } from './impostor-root.ts';
import { pemToDer } from './der.ts';
import { readPkiFile } from './read-pki-file.ts';
import { describeKey, generateKeys, privateKeyPem } from './keys.ts';
import { identityFiles, pkiLayout } from './layout.ts';
import type { IdentityInfo, PkiLayout } from './types.ts';
import { type CredentialRogueKind, ROGUE_KINDS_WITH_FILES } from '../core/rogues.ts';

type RogueFileKind = (typeof ROGUE_KINDS_WITH_FILES)[number];

const DAY_MS = 86_400_000;
const FOREIGN_ROOT: NameAttributes = { commonName: 'Foreign Root CA', organizationName: 'Elsewhere Ltd' };

interface RogueSpec {
  kind: RogueFileKind;
  issuer: Issuer;
  chainTailPem: string;
  profile?: CertificateProfile;
  hash?: HashName;
  validity?: { fromDays: number; toDays: number };
  foreignKey?: boolean;
  subjectAltNames?: { dns?: string[]; ip?: string[] };
}

async function makeRootCa(name: NameAttributes): Promise<CertificateAuthority> {
  const keys = await generateKeys('ec');
  const notBefore = new Date(Date.now() - DAY_MS);
  const cert = await buildCertificate({
    subject: name,
    publicKey: keys.publicKey,
    issuer: { name, ...keys },
    profile: 'root-ca',
    notBefore,
    notAfter: new Date(notBefore.getTime() + 3650 * DAY_MS),
  });
  return { ...keys, certDer: cert.der, certPem: cert.pem };
}

async function makeRogue(spec: RogueSpec): Promise<{ material: IdentityMaterial; entry: IndexEntry }> {
  const id = `rogue-${spec.kind}`;
  const keys = await generateKeys('ec');
  const { fromDays, toDays } = spec.validity ?? { fromDays: -1, toDays: 365 };
  const notBefore = new Date(Date.now() + fromDays * DAY_MS);
  const notAfter = new Date(Date.now() + toDays * DAY_MS);
  const selfSigned = spec.kind === 'self-signed';
  const built = await buildCertificate({
    subject: { commonName: id },
    publicKey: keys.publicKey,
    issuer: selfSigned ? { name: { commonName: id }, ...keys } : spec.issuer,
    profile: spec.profile ?? 'client',
    hash: spec.hash,
    notBefore,
    notAfter,
    subjectAltNames: spec.subjectAltNames,
  });
  // wrong-key: a real certificate next to a key that is not its own — possession cannot be proven.
  const keyPem = privateKeyPem(spec.foreignKey ? (await generateKeys('ec')).privateKey : keys.privateKey);
  return {
    material: { id, certPem: built.pem, keyPem, chainTailPem: selfSigned ? '' : spec.chainTailPem },
    entry: {
      id,
      role: 'rogue',
      rogueKind: spec.kind,
      serial: built.serialHex,
      keyType: describeKey(keys.publicKey),
      issuedAt: new Date().toISOString(),
      notAfter: notAfter.toISOString(),
    },
  };
}

async function kitIsComplete(layout: PkiLayout): Promise<boolean> {
  const index = await openStore(layout);
  for (const kind of ROGUE_KINDS_WITH_FILES) {
    if (!index.identities[`rogue-${kind}`]) return false;
    if (
      !(await access(identityFiles(layout, `rogue-${kind}`).chain).then(
        () => true,
        () => false,
      ))
    )
      return false;
  }
  return true;
}

/** The whole rogue credential kit of DESIGN.md. Made once; later calls return what is there. */
export async function generateRogueKit(
  stateDir: string,
  options: { force?: boolean } = {},
): Promise<IdentityInfo[]> {
  const layout = pkiLayout(stateDir);
  if (options.force || !(await kitIsComplete(layout))) {
    const real = await loadIssuingCa(layout);
    const foreign = await makeRootCa(FOREIGN_ROOT);
    // Same name as the real root (ours, or the one imported with `pki init --ca-cert`), another key.
    const impostor = await makeImpostorOf(pemToDer(await readPkiFile(layout.rootCert)));
    const ours = { issuer: real, chainTailPem: real.certPem };
    const specs: RogueSpec[] = [
      { kind: 'self-signed', ...ours },
      { kind: 'foreign-ca', issuer: foreign, chainTailPem: foreign.certPem },
      { kind: 'impostor-ca', issuer: impostor, chainTailPem: impostor.certPem },
      { kind: 'expired', ...ours, validity: { fromDays: -60, toDays: -30 } },
      { kind: 'not-yet-valid', ...ours, validity: { fromDays: 30, toDays: 395 } },
      { kind: 'revoked', ...ours },
      { kind: 'wrong-usage', ...ours, profile: 'server-usage-only' },
      { kind: 'sha1', ...ours, hash: 'sha1' },
      { kind: 'wrong-key', ...ours, foreignKey: true },
      { kind: 'unknown-cn', ...ours },
      {
        kind: 'impostor-broker',
        issuer: foreign,
        chainTailPem: foreign.certPem,
        profile: 'server',
        subjectAltNames: SERVER_SANS,
      },
    ];
    const made = await Promise.all(specs.map(makeRogue));
    await withPkiLock(layout, async () => {
      const index = await reconcileLocked(layout);
      const revoked = made.find(({ entry }) => entry.rogueKind === 'revoked')!.entry.serial;
      await commitIdentities(layout, index, made, { alsoRevoke: [revoked] });
    });
  }
  return Promise.all(ROGUE_KINDS_WITH_FILES.map((kind) => describeIdentity(layout, `rogue-${kind}`)));
}

/** The credential of one rogue kind (making the kit on first use); null for `no-cert`. */
export async function rogueCredential(
  stateDir: string,
  kind: CredentialRogueKind | 'impostor-broker',
): Promise<IdentityInfo | null> {
  if (kind === 'no-cert') return null;
  await generateRogueKit(stateDir);
  return describeIdentity(pkiLayout(stateDir), `rogue-${kind}`);
}
