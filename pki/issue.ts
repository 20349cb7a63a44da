import { access } from 'node:fs/promises';
import { mapConcurrently } from '../core/concurrency.ts';
import { UserError } from '../core/user-error.ts';
import { loadIssuingCa, type CertificateAuthority } from './authority.ts';
import type { CertificateProfile } from './certificate-builder.ts';
import { createLeafTemplate, type LeafTemplate } from './leaf-template.ts';
import { generateEncodedKeys } from './keys.ts';
import { writeCrls } from './crl-files.ts';
import { type IndexEntry, type PkiIndex, readIndex, withPkiLock, writeIndex } from './index-file.ts';
import { clearJournal, openStore, reconcileLocked, writeJournal } from './recovery.ts';
import { writeIdentityFiles, type IdentityMaterial } from './identity-files.ts';
import { validateDeviceId, validateIdentityName } from './identity-id.ts';
import { identityFiles, pkiLayout } from './layout.ts';
import type { IdentityInfo, IdentityRole, KeyType, PkiLayout } from './types.ts';
import { describeIdentity } from './catalog.ts';

export interface IssueOptions {
  keyType?: KeyType;
  days?: number;
  /** Lifetime in ms (from `--validity 45s|10m|12h|30d`); wins over `days`. */
  validityMs?: number;
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

const DAY_MS = 86_400_000;
/** Certificates start a few minutes in the past so a device whose clock runs slightly behind accepts them. */
const BACKDATE_MS = 5 * 60_000;
/** Enough keys and signatures in flight to keep libuv's thread pool busy without holding thousands at once. */
const CONCURRENCY = 16;

export interface LeafSpec {
  id: string;
  role: IdentityRole;
  rogueKind?: string;
  profile: CertificateProfile;
  keyType: KeyType;
  days: number;
  /** Lifetime in ms from now; wins over `days` (short-lived certificates: seconds to minutes). */
  validityMs?: number;
  subjectAltNames?: { dns?: string[]; ip?: string[]; uri?: string[] };
}

/** A device's leaf: a client certificate (clientAuth) named after the device. */
export function deviceLeafSpec(
  id: string,
  options: Partial<Pick<LeafSpec, 'keyType' | 'days' | 'validityMs' | 'subjectAltNames'>> = {},
): LeafSpec {
  return {
    id,
    role: 'device',
    profile: 'client',
    keyType: options.keyType ?? 'ec',
    days: options.days ?? 365,
    ...(options.validityMs !== undefined && { validityMs: options.validityMs }),
    ...(options.subjectAltNames && { subjectAltNames: options.subjectAltNames }),
  };
}

/** notBefore/notAfter of a leaf: backdated for clock skew, but never by more than a tenth of its lifetime. */
export function leafValidity(spec: Pick<LeafSpec, 'days' | 'validityMs'>, now = Date.now()) {
  const lifetime = spec.validityMs ?? spec.days * DAY_MS;
  return {
    notBefore: new Date(now - Math.min(BACKDATE_MS, lifetime / 10)),
    notAfter: new Date(now + lifetime),
  };
}

/** One template per kind of leaf in a batch: forge lays out the structure once per kind, not once per leaf. */
export class LeafTemplates {
  private readonly templates = new Map<string, LeafTemplate>();
  constructor(private readonly ca: CertificateAuthority) {}

  for(spec: LeafSpec, spkiOfSameType: Buffer): LeafTemplate {
    const key = JSON.stringify([spec.profile, spec.keyType, spec.subjectAltNames ?? null]);
    let template = this.templates.get(key);
    if (!template) {
      template = createLeafTemplate(
        { issuer: this.ca, profile: spec.profile, subjectAltNames: spec.subjectAltNames },
        spkiOfSameType,
      );
      this.templates.set(key, template);
    }
    return template;
  }
}

/** Makes a key pair and a certificate signed by the issuing CA; nothing is written. */
export async function makeLeaf(
  templates: LeafTemplates,
  ca: CertificateAuthority,
  spec: LeafSpec,
): Promise<{ material: IdentityMaterial; entry: IndexEntry }> {
  const keys = await generateEncodedKeys(spec.keyType);
  const { notBefore, notAfter } = leafValidity(spec);
  const built = await templates.for(spec, keys.spkiDer).build(spec.id, keys.spkiDer, notBefore, notAfter);
  return {
    material: { id: spec.id, certPem: built.pem, keyPem: keys.privateKeyPem, chainTailPem: ca.certPem },
    entry: {
      id: spec.id,
      role: spec.role,
      ...(spec.rogueKind ? { rogueKind: spec.rogueKind } : {}),
      serial: built.serialHex,
      keyType: keys.description,
      issuedAt: new Date().toISOString(),
      notAfter: notAfter.toISOString(),
    },
  };
}

/**
 * Keys and signatures are made outside the lock (they are the slow part and need no shared state); the lock only
 * covers checking the index, writing the files and the index, so concurrent issuers never corrupt either.
 */
export async function issueLeaves(
  layout: PkiLayout,
  specs: LeafSpec[],
  options: { force?: boolean; lockHeld?: boolean; onProgress?: (done: number, total: number) => void },
): Promise<IndexEntry[]> {
  const ca = await loadIssuingCa(layout);
  const before = options.lockHeld ? await readIndex(layout) : await openStore(layout);
  refuseExisting(before.identities, specs, options.force === true);
  let done = 0;
  const templates = new LeafTemplates(ca);
  const made = await mapConcurrently(
    specs,
    CONCURRENCY,
    (spec) => makeLeaf(templates, ca, spec),
    () => options.onProgress?.(++done, specs.length),
  );
  const commit = async () => {
    const index = await reconcileLocked(layout, { scan: true });
    refuseExisting(index.identities, specs, options.force === true);
    await commitIdentities(layout, index, made);
    return made.map(({ entry }) => entry);
  };
  return options.lockHeld ? commit() : withPkiLock(layout, commit);
}

/**
 * Puts a batch of new identities into the store, crash-consistently (the caller holds the lock): the journal names
 * the batch before anything else is written; an identity replaced with --force has its old serial revoked (the CRLs
 * are re-signed first); the index records every new serial before any of its files exists; the journal goes last.
 * Whatever point a crash interrupts, the certificates on disk are in the index or are found through the journal.
 */
export async function commitIdentities(
  layout: PkiLayout,
  index: PkiIndex,
  made: Array<{ material: IdentityMaterial; entry: IndexEntry }>,
  options: { alsoRevoke?: string[] } = {},
): Promise<void> {
  const serials = new Set(Object.values(index.identities).map((entry) => entry.serial));
  for (const { entry } of made) {
    if (serials.has(entry.serial)) throw new Error(`serial collision on ${entry.serial}`); // 2^-126: a bug, not luck
    serials.add(entry.serial);
  }
  await writeJournal(
    layout,
    made.map(({ entry }) => entry.id),
  );
  const superseded = made
    .map(({ entry }) => (Object.hasOwn(index.identities, entry.id) ? index.identities[entry.id]! : null))
    .filter((old): old is IndexEntry => old !== null)
    .map((old) => old.serial);
  const toRevoke = [...superseded, ...(options.alsoRevoke ?? [])].filter(
    (serial) => !index.crls.issuing.revoked.some((entry) => entry.serialHex === serial),
  );
  if (toRevoke.length > 0) {
    const revokedAt = new Date().toISOString();
    for (const serialHex of toRevoke) index.crls.issuing.revoked.push({ serialHex, revokedAt });
    await writeCrls(layout, index);
  }
  for (const { entry } of made) index.identities[entry.id] = entry;
  await writeIndex(layout, index);
  await mapConcurrently(
    made,
    16,
    ({ material }) => writeIdentityFiles(layout, material),
    () => {},
  );
  await clearJournal(layout);
}

/** Without --force an existing id is refused; with it, an identity still cannot change its role. */
function refuseExisting(identities: Record<string, IndexEntry>, specs: LeafSpec[], force: boolean): void {
  const clash = specs.filter((spec) => Object.hasOwn(identities, spec.id));
  const roleChange = clash.find((spec) => identities[spec.id]!.role !== spec.role);
  if (roleChange) {
    throw new UserError(
      'cannot change the role of an identity',
      `'${roleChange.id}' is a ${identities[roleChange.id]!.role} identity, not a ${roleChange.role}`,
      'Pick another id.',
    );
  }
  if (force || clash.length === 0) return;
  const existing = clash.map((spec) => spec.id);
  throw new UserError(
    'identity already exists',
    `${existing
      .slice(0, 5)
      .map((id) => `'${id}'`)
      .join(', ')}${existing.length > 5 ? ` and ${existing.length - 5} more` : ''}`,
    'Add --force to replace it with a new key and certificate (the old certificate is revoked).',
  );
}

export async function issueIdentities(
  stateDir: string,
  ids: string[],
  options: IssueOptions = {},
): Promise<IdentityInfo[]> {
  const layout = pkiLayout(stateDir);
  const unique = [...new Set(ids)];
  if (unique.length !== ids.length) throw new UserError('cannot issue', 'the same id is listed twice');
  for (const id of unique) validateIdentityName(id);
  const days = options.days ?? 365;
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new UserError('invalid --days', `'${options.days}' must be a whole number of days from 1 to 3650`);
  }
  const specs = unique.map((id) =>
    deviceLeafSpec(id, {
      days,
      ...(options.keyType && { keyType: options.keyType }),
      ...(options.validityMs !== undefined && { validityMs: options.validityMs }),
    }),
  );
  const entries = await issueLeaves(layout, specs, options);
  const index = await readIndex(layout);
  return mapConcurrently(entries, 16, (entry) => describeIdentity(layout, entry.id, index));
}

/**
 * The identities that were issued already (revoked or not: a revoked device stays revoked), plus new ones for the
 * rest, issued in one batch. The fleet calls this so the next run reuses the same devices.
 */
export async function ensureIdentities(
  stateDir: string,
  ids: string[],
  options: { keyType?: KeyType; validityMs?: number } = {},
): Promise<IdentityInfo[]> {
  const layout = pkiLayout(stateDir);
  const index = await openStore(layout);
  const missing: string[] = [];
  for (const id of new Set(ids)) {
    validateDeviceId(id);
    // A run that asks for a lifetime gets fresh certificates of that lifetime (short ones expire between runs).
    const present =
      options.validityMs === undefined &&
      index.identities[id] &&
      (await access(identityFiles(layout, id).chain).then(
        () => true,
        () => false,
      ));
    if (!present) missing.push(id);
  }
  if (missing.length > 0) {
    const specs = missing.map((id) =>
      deviceLeafSpec(id, {
        ...(options.keyType && { keyType: options.keyType }),
        ...(options.validityMs !== undefined && { validityMs: options.validityMs }),
      }),
    );
    await issueLeaves(layout, specs, { force: true });
  }
  const current = missing.length > 0 ? await readIndex(layout) : index;
  return mapConcurrently(ids, 16, (id) => describeIdentity(layout, id, current));
}

export async function ensureIdentity(
  stateDir: string,
  id: string,
  options: { keyType?: KeyType } = {},
): Promise<IdentityInfo> {
  const [info] = await ensureIdentities(stateDir, [id], options);
  return info!;
}
