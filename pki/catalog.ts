import { readFile } from 'node:fs/promises';
import { UserError } from '../core/user-error.ts';
import { mapConcurrently } from '../core/concurrency.ts';
import { type EnrollmentRecord, enrollmentLedgerPath, readEnrollmentRecords } from './enrollment-record.ts';
import { type IndexEntry, readIndex, type PkiIndex } from './index-file.ts';
import { openStore } from './recovery.ts';
import { inspectCertificate, statusOf } from './inspect.ts';
import { identityFiles, pkiLayout } from './layout.ts';
import type { IdentityInfo, IdentityRole, PkiLayout } from './types.ts';

/** The two CAs are listed under these ids next to the identities they issued. */
const CA_IDS = new Map<
  string,
  { role: IdentityRole; cert: (layout: PkiLayout) => string; key: (layout: PkiLayout) => string }
>([
  ['root-ca', { role: 'root-ca', cert: (l) => l.rootCert, key: (l) => l.rootKey }],
  ['issuing-ca', { role: 'issuing-ca', cert: (l) => l.issuingCert, key: (l) => l.issuingKey }],
]);

function isRevoked(index: PkiIndex, serial: string): boolean {
  return [...index.crls.issuing.revoked, ...index.crls.root.revoked].some(
    (entry) => entry.serialHex === serial,
  );
}

async function readCertFile(path: string, id: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        `identity '${id}' has no certificate`,
        `${path} is missing`,
        `Re-issue it: certfleet pki issue ${id} --force`,
      );
    }
    throw new UserError(`cannot read the certificate of '${id}'`, `${path}: ${(error as Error).message}`);
  }
}

export async function describeIdentity(
  layout: PkiLayout,
  id: string,
  knownIndex?: PkiIndex,
): Promise<IdentityInfo> {
  const index = knownIndex ?? (await readIndex(layout));
  const ca = CA_IDS.get(id);
  const entry = Object.hasOwn(index.identities, id) ? index.identities[id] : undefined;
  if (!ca && !entry) {
    throw new UserError(
      'unknown identity',
      `'${id}' was never issued in ${layout.pkiDir}`,
      `Issue it with \`certfleet pki issue ${id}\`, or see \`certfleet pki list\`.`,
    );
  }
  const files = ca
    ? { cert: ca.cert(layout), key: ca.key(layout), chain: ca.cert(layout) }
    : identityFiles(layout, id);
  let facts: ReturnType<typeof inspectCertificate>;
  try {
    facts = inspectCertificate(await readCertFile(files.cert, id));
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(
      `corrupt certificate of '${id}'`,
      `${files.cert}: ${(error as Error).message}`,
      `Re-issue it: certfleet pki issue ${id} --force`,
    );
  }
  return {
    id,
    role: ca ? ca.role : entry!.role,
    ...(entry?.rogueKind ? { rogueKind: entry.rogueKind as NonNullable<IdentityInfo['rogueKind']> } : {}),
    ...facts,
    status: statusOf(facts, isRevoked(index, facts.serial)),
    paths: { ...files, ca: layout.rootCert },
  };
}

/**
 * Every identity: the CAs, then the index in id order, then the CNs only the enrollment ledger knows (role 'enrolled'). One unreadable certificate does not hide the others: it is
 * listed with status 'corrupt' and the problem, from what the index knows of it.
 */
export async function listIdentities(stateDir: string): Promise<IdentityInfo[]> {
  const layout = pkiLayout(stateDir);
  const index = await openStore(layout, { scan: true });
  const ids = [...CA_IDS.keys(), ...Object.keys(index.identities).sort()];
  const listed = await mapConcurrently(ids, 16, (id) =>
    describeIdentity(layout, id, index).catch((error: unknown) => {
      if (!(error instanceof UserError) || CA_IDS.has(id)) throw error; // a corrupt CA is not a listing problem
      return corruptIdentity(layout, index.identities[id]!, error);
    }),
  );
  return [
    ...listed,
    ...enrolledIdentities(layout, index, readEnrollmentRecords(enrollmentLedgerPath(stateDir))),
  ];
}

/**
 * The ledger's CNs that are not in the index (a rotation of an indexed id is that id's business), each as its latest
 * certificate. The CA has no file of them, so only what the ledger recorded is known.
 */
export function enrolledIdentities(
  layout: PkiLayout,
  index: PkiIndex,
  records: EnrollmentRecord[],
): IdentityInfo[] {
  const latest = new Map<string, EnrollmentRecord>();
  for (const record of records)
    if (!Object.hasOwn(index.identities, record.cn)) latest.set(record.cn, record);
  return [...latest.keys()].sort().map((cn) => enrolledIdentity(layout, index, latest.get(cn)!));
}

function enrolledIdentity(layout: PkiLayout, index: PkiIndex, record: EnrollmentRecord): IdentityInfo {
  const expired = Date.parse(record.notAfter) <= Date.now();
  return {
    id: record.cn,
    role: 'enrolled',
    subject: `CN=${record.cn}`,
    commonName: record.cn,
    issuer: '',
    serial: record.serial,
    notBefore: record.ts,
    notAfter: record.notAfter,
    keyType: '',
    keyUsage: [],
    extKeyUsage: [],
    subjectAltNames: [],
    fingerprint256: '',
    status: isRevoked(index, record.serial) ? 'revoked' : expired ? 'expired' : 'valid',
    paths: { cert: '', key: '', chain: '', ca: layout.rootCert },
  };
}

function corruptIdentity(layout: PkiLayout, entry: IndexEntry, error: UserError): IdentityInfo {
  return {
    id: entry.id,
    role: entry.role,
    ...(entry.rogueKind ? { rogueKind: entry.rogueKind as NonNullable<IdentityInfo['rogueKind']> } : {}),
    subject: '',
    commonName: entry.id,
    issuer: '',
    serial: entry.serial,
    notBefore: '',
    notAfter: entry.notAfter,
    keyType: entry.keyType,
    keyUsage: [],
    extKeyUsage: [],
    subjectAltNames: [],
    fingerprint256: '',
    status: 'corrupt',
    problem: `${error.what}: ${error.why}`,
    paths: { ...identityFiles(layout, entry.id), ca: layout.rootCert },
  };
}

export async function showIdentity(stateDir: string, id: string): Promise<IdentityInfo> {
  const layout = pkiLayout(stateDir);
  return describeIdentity(layout, id, await openStore(layout));
}
