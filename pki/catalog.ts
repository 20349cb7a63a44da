import { readFile } from 'node:fs/promises';
import { UserError } from '../core/user-error.ts';
import { readIndex, type PkiIndex } from './index-file.ts';
import { inspectCertificate, statusOf } from './inspect.ts';
import { identityFiles, pkiLayout } from './layout.ts';
import type { IdentityInfo, IdentityRole, PkiLayout } from './types.ts';

/** The two CAs are listed under these ids next to the identities they issued. */
const CA_IDS: Record<
  string,
  { role: IdentityRole; cert: (layout: PkiLayout) => string; key: (layout: PkiLayout) => string }
> = {
  'root-ca': { role: 'root-ca', cert: (l) => l.rootCert, key: (l) => l.rootKey },
  'issuing-ca': { role: 'issuing-ca', cert: (l) => l.issuingCert, key: (l) => l.issuingKey },
};

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
  const ca = CA_IDS[id];
  const entry = index.identities[id];
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

export async function listIdentities(stateDir: string): Promise<IdentityInfo[]> {
  const layout = pkiLayout(stateDir);
  const index = await readIndex(layout);
  const ids = [...Object.keys(CA_IDS), ...Object.keys(index.identities).sort()];
  return Promise.all(ids.map((id) => describeIdentity(layout, id, index)));
}

export function showIdentity(stateDir: string, id: string): Promise<IdentityInfo> {
  return describeIdentity(pkiLayout(stateDir), id);
}
