/**
 * What a crash can leave in the store, and how every command that opens the store puts it right (under the lock):
 *
 * - An issuance writes a journal (the ids of the batch) before anything else, then the CRLs when it supersedes
 *   certificates, then the index, then the files, and removes the journal last. A journal still present means a
 *   crash: each journaled id is checked against its files.
 * - An identity directory the index does not know (a store written before the journal existed, or a hand copy)
 *   is an orphan: a certificate signed by our issuing CA with its own key is adopted into the index; one without a
 *   usable key is revoked and its files removed. Either way the CA never forgets a certificate it signed.
 * - An index entry whose certificate never reached the disk is dropped (nobody can hold that certificate).
 * - Temporary files of interrupted atomic writes are removed.
 * - The CRL files and the index agree on what is revoked: a serial in either is revoked in both (never un-revoked).
 *
 * Each repair is reported once through `onPkiNotice`, so the CLI can say what it did.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { writeCrls } from './crl-files.ts';
import { parseCrl } from './crl-verify.ts';
import { type IndexEntry, type PkiIndex, readIndex, withPkiLock, writeIndex } from './index-file.ts';
import { describeKey } from './keys.ts';
import { identityDir, identityFiles } from './layout.ts';
import type { IdentityRole, PkiLayout } from './types.ts';

type NoticeListener = (message: string) => void;
const listeners = new Set<NoticeListener>();

/** Hears every repair the store makes (the CLI prints them to stderr). Returns a function that unsubscribes. */
export function onPkiNotice(listener: NoticeListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notice(message: string): void {
  for (const listener of listeners) listener(message);
}

const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.tmp$/;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readOrNull(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

export async function writeJournal(layout: PkiLayout, ids: string[]): Promise<void> {
  const journal = { version: 1, pid: process.pid, startedAt: new Date().toISOString(), ids };
  await writeFileAtomic(layout.journal, `${JSON.stringify(journal)}\n`, { parentExists: true });
}

export async function clearJournal(layout: PkiLayout): Promise<void> {
  await rm(layout.journal, { force: true });
}

async function journaledIds(layout: PkiLayout): Promise<string[] | null> {
  const text = await readOrNull(layout.journal);
  if (text === null) return null;
  try {
    const ids = (JSON.parse(text) as { ids?: unknown }).ids;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return []; // torn by the crash before its rename: the batch had written nothing yet
  }
}

/** Directories under identities/ and rogue/ that the index does not name. One readdir each. */
async function unknownIds(layout: PkiLayout, index: PkiIndex): Promise<string[]> {
  const names = async (dir: string) =>
    (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
  const devices = await names(layout.identitiesDir);
  const rogues = (await names(layout.rogueDir)).map((kind) => `rogue-${kind}`);
  return [...devices, ...rogues].filter((id) => !Object.hasOwn(index.identities, id));
}

function isRevoked(index: PkiIndex, serial: string): boolean {
  return [...index.crls.issuing.revoked, ...index.crls.root.revoked].some(
    (entry) => entry.serialHex === serial,
  );
}

function serialOf(cert: X509Certificate): string {
  return cert.serialNumber.toUpperCase().replace(/^(00)+(?=[0-9A-F]{2})/, '');
}

function roleFor(id: string): IdentityRole {
  if (id === 'server' || id === 'dashboard') return id;
  return id.startsWith('rogue-') ? 'rogue' : 'device';
}

interface Context {
  layout: PkiLayout;
  index: PkiIndex;
  issuing: X509Certificate;
  issuingPem: string;
  /** Serials to put on the issuing CA's CRL. */
  revoke: string[];
}

function keyMatches(cert: X509Certificate, keyPem: string | null): boolean {
  if (keyPem === null) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** Removes an identity's files (and its directory when nothing else is left in it). */
async function removeIdentityFiles(layout: PkiLayout, id: string): Promise<void> {
  const files = identityFiles(layout, id);
  await Promise.all([files.key, files.cert, files.chain].map((path) => rm(path, { force: true })));
  await rmdir(identityDir(layout, id)).catch(() => undefined);
}

/** Brings one identity's files and its index entry into agreement. Returns true when the index changed. */
/**
 * `journaled`: the id belongs to a batch a crash interrupted, so leftovers are ours to remove. A directory found only
 * by the scan is someone's: its certificate is adopted or revoked when our CA signed it, and nothing else is deleted.
 */
async function reconcileIdentity(context: Context, id: string, journaled: boolean): Promise<boolean> {
  const { layout, index } = context;
  const dir = identityDir(layout, id);
  const files = identityFiles(layout, id);
  const temps = (await readdir(dir).catch(() => [] as string[])).filter((name) => TEMP_FILE.test(name));
  await Promise.all(temps.map((name) => rm(join(dir, name), { force: true })));
  const entry = Object.hasOwn(index.identities, id) ? index.identities[id] : undefined;
  const [certPem, keyPem, chainPem] = await Promise.all([
    readOrNull(files.cert),
    readOrNull(files.key),
    readOrNull(files.chain),
  ]);
  let cert: X509Certificate | null = null;
  try {
    cert = certPem === null ? null : new X509Certificate(certPem);
  } catch {
    cert = null;
  }
  const ours = cert?.checkIssued(context.issuing) === true && cert.verify(context.issuing.publicKey);
  const serial = cert ? serialOf(cert) : '';
  const drop = async (why: string) => {
    await removeIdentityFiles(layout, id);
    if (entry) {
      delete index.identities[id];
      notice(`dropped '${id}': ${why}; issue it again`);
      return true;
    }
    if (certPem !== null || keyPem !== null) notice(`removed the leftover files of '${id}': ${why}`);
    return false;
  };

  if (cert && entry && serial === entry.serial) {
    if (!keyMatches(cert, keyPem)) {
      if (ours) context.revoke.push(serial);
      return drop(
        `a crash left its certificate (serial ${serial}) without its key${ours ? '; the serial is revoked' : ''}`,
      );
    }
    const chain = certPem! + (ours ? context.issuingPem : '');
    if (chainPem === null || (ours && chainPem !== chain)) {
      if (!ours) return drop('a crash left it without its chain');
      await writeFileAtomic(files.chain, chain, { parentExists: true });
      notice(`completed the chain of '${id}' (a crash interrupted its issuance)`);
    }
    return false;
  }
  if (cert && ours && !isRevoked(index, serial)) {
    // A certificate we signed that the index does not know: adopt it, or revoke it.
    if (!entry && keyMatches(cert, keyPem)) {
      index.identities[id] = {
        id,
        role: roleFor(id),
        serial,
        keyType: describeKey(cert.publicKey),
        issuedAt: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
      } satisfies IndexEntry;
      if (chainPem !== certPem + context.issuingPem) {
        await writeFileAtomic(files.chain, certPem + context.issuingPem, { parentExists: true });
      }
      notice(`adopted '${id}' (serial ${serial}): its files were written but the index update was lost`);
      return true;
    }
    context.revoke.push(serial);
    notice(
      `revoked serial ${serial} found in '${id}': signed by this CA but ${entry ? 'not the certificate the index names' : 'without its key'}`,
    );
    if (journaled || entry) await drop('its files did not match the index');
    return true;
  }
  if (entry) return drop(`its certificate (serial ${entry.serial}) never reached the disk before a crash`);
  if (certPem !== null || keyPem !== null || chainPem !== null)
    return journaled ? drop('they belong to no issued certificate') : false;
  await rmdir(dir).catch(() => undefined);
  return false;
}

/** Serials one side (CRL files or index) has revoked and the other has not. */
async function crlDrift(layout: PkiLayout, index: PkiIndex): Promise<{ added: number; resign: boolean }> {
  let added = 0;
  let resign = false;
  for (const [ca, path] of [
    ['issuing', layout.issuingCrl],
    ['root', layout.rootCrl],
  ] as const) {
    const recorded = index.crls[ca].revoked;
    let onDisk: { serialHex: string; revokedAt: string }[];
    try {
      onDisk = parseCrl((await readOrNull(path)) ?? '').revoked;
    } catch {
      resign = true;
      continue;
    }
    const known = new Set(recorded.map((entry) => entry.serialHex));
    for (const entry of onDisk) {
      if (known.has(entry.serialHex)) continue;
      recorded.push(entry); // revoked in a CRL we signed: the index missed it (crash before the index write)
      added++;
    }
    const listed = new Set(onDisk.map((entry) => entry.serialHex));
    if (recorded.some((entry) => !listed.has(entry.serialHex))) resign = true;
  }
  return { added, resign };
}

/**
 * Repairs what a crash left, holding the lock. `scan` also looks for identity directories the index does not know
 * (one readdir); without it only a journal triggers the per-identity checks. Returns the index as it is now.
 */
export async function reconcileLocked(
  layout: PkiLayout,
  options: { scan?: boolean } = {},
): Promise<PkiIndex> {
  const index = await readIndex(layout);
  const journal = await journaledIds(layout);
  const ids = new Set(journal ?? []);
  if (options.scan) for (const id of await unknownIds(layout, index)) ids.add(id);
  let changed = false;
  const revoke: string[] = [];
  if (ids.size > 0) {
    const issuingPem = await readFile(layout.issuingCert, 'utf8');
    const context: Context = { layout, index, issuing: new X509Certificate(issuingPem), issuingPem, revoke };
    for (const id of ids)
      changed = (await reconcileIdentity(context, id, journal?.includes(id) === true)) || changed;
  }
  if (journal !== null || options.scan) await removeStoreTemps(layout);
  const now = new Date().toISOString();
  for (const serialHex of revoke) index.crls.issuing.revoked.push({ serialHex, revokedAt: now });
  const drift = await crlDrift(layout, index);
  if (drift.added > 0)
    notice(`recorded ${drift.added} revocation(s) that were in the CRL but not in the index`);
  if (drift.resign || revoke.length > 0) {
    await writeCrls(layout, index);
    changed = true;
    if (drift.resign && revoke.length === 0)
      notice('re-signed the CRLs: they missed revocations the index records');
  }
  if (changed || drift.added > 0) await writeIndex(layout, index);
  if (journal !== null) await clearJournal(layout);
  return index;
}

async function removeStoreTemps(layout: PkiLayout): Promise<void> {
  for (const dir of [layout.pkiDir, join(layout.pkiDir, 'root'), join(layout.pkiDir, 'issuing')]) {
    const temps = (await readdir(dir).catch(() => [] as string[])).filter((name) => TEMP_FILE.test(name));
    await Promise.all(temps.map((name) => rm(join(dir, name), { force: true })));
  }
}

/**
 * The index, after repairing what a crash left. The fast path costs one stat (no journal) — plus, with `scan`,
 * one readdir per identity folder; only when something needs repair does it take the lock.
 */
export async function openStore(layout: PkiLayout, options: { scan?: boolean } = {}): Promise<PkiIndex> {
  const index = await readIndex(layout); // no PKI: say so before anything else
  const needsRepair =
    (await exists(layout.journal)) || (options.scan === true && (await unknownIds(layout, index)).length > 0);
  if (!needsRepair) return index;
  return withPkiLock(layout, () => reconcileLocked(layout, options));
}
