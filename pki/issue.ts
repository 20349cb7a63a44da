import { access } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { mapConcurrently } from '../core/concurrency.ts';
import { UserError } from '../core/user-error.ts';
import { loadIssuingCa, type CertificateAuthority } from './authority.ts';
import type { CertificateProfile } from './certificate-builder.ts';
import { createLeafTemplate, type LeafTemplate } from './leaf-template.ts';
import { generateEncodedKeys } from './keys.ts';
import { writeCrls } from './crl-files.ts';
import { randomSerialHex } from './der-bytes.ts';
import { type IndexEntry, type PkiIndex, readIndex, withPkiLock, writeIndex } from './index-file.ts';
import { clearJournal, openStore, reconcileLocked, writeJournal } from './recovery.ts';
import type { IdentityMaterial } from './identity-files.ts';
import {
  chunks,
  makeDurable,
  makeRenamesDurable,
  renameIdentityFiles,
  stageIdentityFiles,
} from './identity-batch.ts';
import { shareChunks, startLeafWorkers } from './leaf-pool.ts';
import type { FromLeafWorker, LeafJob, MadeLeaf } from './leaf-worker-protocol.ts';
import { validateDeviceId, validateIdentityName } from './identity-id.ts';
import { identityFiles, pkiLayout } from './layout.ts';
import type { IdentityInfo, IdentityRole, KeyType, PkiLayout } from './types.ts';
import { describeIdentity } from './catalog.ts';
import { factsOfIssued } from './issued-facts.ts';
import { statusOf } from './inspect.ts';
import { type OnIssuePhase, timePhase } from './issue-phases.ts';

export interface IssueOptions {
  keyType?: KeyType;
  days?: number;
  /** Lifetime in ms (from `--validity 45s|10m|12h|30d`); wins over `days`. */
  validityMs?: number;
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Times each step of the issuance (the benchmark's per-phase split). */
  onPhase?: OnIssuePhase;
}

const DAY_MS = 86_400_000;
/** Certificates start a few minutes in the past so a device whose clock runs slightly behind accepts them. */
const BACKDATE_MS = 5 * 60_000;
/**
 * From this many leaves on, keys, signatures and file writes go to the leaf worker threads (one per core): starting
 * them costs ~100 ms once per process, a small batch is done on this thread sooner.
 */
export const WORKERS_FROM_LEAVES = 64;
/** Leaves per message to a worker. */
const LEAVES_PER_JOB = 32;

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
    entry: entryOf(spec, built.serialHex, keys.description, notAfter),
  };
}

/** A leaf made by this process: its files, its index entry, and what it was made from (for factsOfIssued). */
type Made = { material: IdentityMaterial; entry: IndexEntry; template?: LeafTemplate; notBefore?: Date };

function entryOf(spec: LeafSpec, serialHex: string, keyType: string, notAfter: Date): IndexEntry {
  return {
    id: spec.id,
    role: spec.role,
    ...(spec.rogueKind ? { rogueKind: spec.rogueKind } : {}),
    serial: serialHex,
    keyType,
    issuedAt: new Date().toISOString(),
    notAfter: notAfter.toISOString(),
  };
}

/** One leaf made on this thread, the same way a worker makes it (keys.ts, leaf-der.ts). */
async function makeLeafHere(template: LeafTemplate, job: LeafJob): Promise<MadeLeaf> {
  const keys = await generateEncodedKeys(job.keyType);
  const built = await template.build(
    job.commonName,
    keys.spkiDer,
    new Date(job.notBefore),
    new Date(job.notAfter),
    job.serialHex,
  );
  return { certPem: built.pem, keyPem: keys.privateKeyPem, keyDescription: keys.description };
}

/**
 * Every leaf of a batch, in chunks: forge lays out one prototype per kind of leaf (once), then this thread and the
 * leaf worker threads (for a big batch, as soon as they are up) take chunks from one queue; each leaf is a key pair,
 * a TBS encoded around the prototype, and a signature.
 */
async function makeLeaves(
  templates: LeafTemplates,
  ca: CertificateAuthority,
  specs: LeafSpec[],
  onDone: (count: number) => void,
): Promise<Made[]> {
  const sampleKeys = new Map<KeyType, Buffer>();
  const sampleSpki = async (keyType: KeyType) => {
    if (!sampleKeys.has(keyType)) sampleKeys.set(keyType, (await generateEncodedKeys(keyType)).spkiDer);
    return sampleKeys.get(keyType)!;
  };
  const kinds: LeafTemplate[] = [];
  const kindIndex = new Map<LeafTemplate, number>();
  const jobs: LeafJob[] = [];
  for (const [i, spec] of specs.entries()) {
    if (i % 500 === 499) await nextTurn(); // thousands of jobs: a few ms per turn of the event loop
    const template = templates.for(spec, await sampleSpki(spec.keyType));
    if (!kindIndex.has(template)) kindIndex.set(template, kinds.push(template) - 1);
    const { notBefore, notAfter } = leafValidity(spec);
    jobs.push({
      commonName: spec.id,
      keyType: spec.keyType,
      prototype: kindIndex.get(template)!,
      notBefore: notBefore.getTime(),
      notAfter: notAfter.getTime(),
      serialHex: randomSerialHex(),
    });
  }
  const prototypes = kinds.map((template) => template.prototype);
  // Each chunk's results become index entries as they arrive: no pass over thousands at the end.
  const made = (part: Array<[LeafSpec, LeafJob]>, leaves: MadeLeaf[]): Made[] =>
    part.map(([spec, job], i) => ({
      material: {
        id: spec.id,
        certPem: leaves[i]!.certPem,
        keyPem: leaves[i]!.keyPem,
        chainTailPem: ca.certPem,
      },
      entry: entryOf(spec, job.serialHex, leaves[i]!.keyDescription, new Date(job.notAfter)),
      template: kinds[job.prototype]!,
      notBefore: new Date(job.notBefore),
    }));
  const pairs = specs.map((spec, i): [LeafSpec, LeafJob] => [spec, jobs[i]!]);
  const parts = await shareChunks(
    chunks(pairs, LEAVES_PER_JOB),
    async (part) =>
      made(part, await Promise.all(part.map(([, job]) => makeLeafHere(kinds[job.prototype]!, job)))),
    async (worker, part) => {
      // Only the prototypes this chunk uses (leaves with their own SANs each have one: thousands in a batch).
      const used = [...new Set(part.map(([, job]) => job.prototype))];
      const reply = await worker.send<Extract<FromLeafWorker, { type: 'made' }>>({
        type: 'make',
        issuerKey: ca.privateKey,
        prototypes: used.map((index) => prototypes[index]!),
        jobs: part.map(([, job]) => ({ ...job, prototype: used.indexOf(job.prototype) })),
      });
      return made(part, reply.leaves);
    },
    { useWorkers: specs.length >= WORKERS_FROM_LEAVES, onChunkDone: (part) => onDone(part.length) },
  );
  return parts.flat();
}

/**
 * Keys and signatures are made outside the lock (they are the slow part and need no shared state); the lock only
 * covers checking the index, writing the files and the index, so concurrent issuers never corrupt either.
 */
export async function issueLeaves(
  layout: PkiLayout,
  specs: LeafSpec[],
  options: IssueLeavesOptions,
): Promise<IndexEntry[]> {
  return (await issueMadeLeaves(layout, specs, options, async () => null)).made.map(({ entry }) => entry);
}

type IssueLeavesOptions = {
  force?: boolean;
  lockHeld?: boolean;
  onProgress?: (done: number, total: number) => void;
  onPhase?: OnIssuePhase;
};

/** What `pki show` says of identities this process just issued (without reading their files back). */
async function infoOfMade(layout: PkiLayout, made: Made[]): Promise<IdentityInfo[]> {
  const facts = await factsOfIssued(
    made.map(({ material, ...rest }) => ({ certPem: material.certPem, ...rest })),
  );
  const infos: IdentityInfo[] = [];
  for (const [i, { entry }] of made.entries()) {
    if (i % 100 === 99) await nextTurn();
    infos.push({
      id: entry.id,
      role: entry.role,
      ...(entry.rogueKind ? { rogueKind: entry.rogueKind as NonNullable<IdentityInfo['rogueKind']> } : {}),
      ...facts[i]!,
      status: statusOf(facts[i]!, false),
      paths: { ...identityFiles(layout, entry.id), ca: layout.rootCert },
    });
  }
  return infos;
}

/**
 * Makes the leaves and commits them. `alongside` runs on the made leaves while the commit waits for the disk (the
 * answer of the call: ~50 µs a leaf on this thread, a quarter of a second for 5,000, in the shadow of the syncs);
 * its result counts only if the commit succeeds.
 */
async function issueMadeLeaves<T>(
  layout: PkiLayout,
  specs: LeafSpec[],
  options: IssueLeavesOptions,
  alongside: (made: Made[]) => Promise<T>,
): Promise<{ made: Made[]; alongside: T }> {
  const { onPhase } = options;
  if (specs.length >= WORKERS_FROM_LEAVES) startLeafWorkers(); // they boot while the CA and index are read
  const [ca, before] = await timePhase(onPhase, 'open', async () => [
    await loadIssuingCa(layout),
    options.lockHeld ? await readIndex(layout) : await openStore(layout),
  ]);
  refuseExisting(before.identities, specs, options.force === true);
  let done = 0;
  const templates = new LeafTemplates(ca);
  const made = await timePhase(onPhase, 'make', () =>
    makeLeaves(templates, ca, specs, (count) => {
      done += count;
      options.onProgress?.(done, specs.length);
    }),
  );
  const lockWait = onPhase && { started: performance.now(), cpu: process.cpuUsage() };
  const commit = async () => {
    if (lockWait) {
      const used = process.cpuUsage(lockWait.cpu);
      onPhase?.('lock', performance.now() - lockWait.started, (used.user + used.system) / 1000);
    }
    const index = await timePhase(onPhase, 'reconcile', () => reconcileLocked(layout, { scan: true }));
    refuseExisting(index.identities, specs, options.force === true);
    const [, extra] = await Promise.all([
      commitIdentities(layout, index, made, { onPhase }),
      alongside(made),
    ]);
    return { made, alongside: extra };
  };
  return options.lockHeld ? commit() : withPkiLock(layout, commit);
}

/**
 * Puts a batch of new identities into the store, crash-consistently (the caller holds the lock): the journal names
 * the batch before anything else is written; an identity replaced with --force has its old serial revoked (the CRLs
 * are re-signed first); every file of the batch is written to a temporary name and made durable in one pass; the
 * index then records every new serial before any of its files exists under its own name; the temporaries are renamed
 * into place and the renames made durable; the journal goes last (identity-batch.ts). Whatever point a crash
 * interrupts, the certificates on disk are in the index or are found through the journal, and a key file is whole.
 */
export async function commitIdentities(
  layout: PkiLayout,
  index: PkiIndex,
  made: Made[],
  options: { alsoRevoke?: string[]; onPhase?: OnIssuePhase | undefined } = {},
): Promise<void> {
  const { onPhase } = options;
  const serials = new Set(Object.values(index.identities).map((entry) => entry.serial));
  for (const { entry } of made) {
    if (serials.has(entry.serial)) throw new Error(`serial collision on ${entry.serial}`); // 2^-126: a bug, not luck
    serials.add(entry.serial);
  }
  await timePhase(onPhase, 'journal', () =>
    writeJournal(
      layout,
      made.map(({ entry }) => entry.id),
    ),
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
    await timePhase(onPhase, 'crl', () => writeCrls(layout, index));
  }
  const useWorkers = made.length >= WORKERS_FROM_LEAVES;
  const staged = await timePhase(onPhase, 'stage', () =>
    stageIdentityFiles(
      layout,
      made.map(({ material }) => material),
      useWorkers,
    ),
  );
  await timePhase(onPhase, 'sync-files', () =>
    makeDurable(
      layout,
      staged.flatMap((identity) => identity.renames.map(([temp]) => temp)),
      useWorkers,
    ),
  );
  for (const { entry } of made) index.identities[entry.id] = entry;
  await timePhase(onPhase, 'index', () => writeIndex(layout, index));
  await timePhase(onPhase, 'rename', () => renameIdentityFiles(staged, useWorkers));
  await timePhase(onPhase, 'sync-renames', () => makeRenamesDurable(layout, staged, useWorkers));
  await timePhase(onPhase, 'journal-clear', () => clearJournal(layout));
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
  const answer = (made: Made[]) => timePhase(options.onPhase, 'answer', () => infoOfMade(layout, made));
  return (await issueMadeLeaves(layout, specs, options, answer)).alongside;
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
    const { alongside: made } = await issueMadeLeaves(layout, specs, { force: true }, (leaves) =>
      infoOfMade(layout, leaves),
    );
    const issued = new Map(made.map((info) => [info.id, info]));
    const current = await readIndex(layout);
    return mapConcurrently(ids, 16, async (id) => issued.get(id) ?? describeIdentity(layout, id, current));
  }
  return mapConcurrently(ids, 16, (id) => describeIdentity(layout, id, index));
}

export async function ensureIdentity(
  stateDir: string,
  id: string,
  options: { keyType?: KeyType } = {},
): Promise<IdentityInfo> {
  const [info] = await ensureIdentities(stateDir, [id], options);
  return info!;
}
