import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { UserError } from '../core/user-error.ts';
import type { RevokedEntry } from './crl.ts';
import type { IdentityRole, PkiLayout } from './types.ts';

/** One record per issued certificate. The PEM files are the truth for the certificate itself. */
export interface IndexEntry {
  id: string;
  role: IdentityRole;
  rogueKind?: string;
  serial: string;
  keyType: string;
  issuedAt: string;
  notAfter: string;
}

export interface PkiIndex {
  version: 1;
  identities: Record<string, IndexEntry>;
  /** Per CA: the revoked serials and the number of the last CRL written. */
  crls: {
    root: { number: number; revoked: RevokedEntry[] };
    issuing: { number: number; revoked: RevokedEntry[] };
  };
}

export function emptyIndex(): PkiIndex {
  return {
    version: 1,
    identities: Object.create(null) as Record<string, IndexEntry>,
    crls: { root: { number: 0, revoked: [] }, issuing: { number: 0, revoked: [] } },
  };
}

export async function readIndex(layout: PkiLayout): Promise<PkiIndex> {
  let text: string;
  try {
    text = await readFile(layout.index, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        'no certificate authority',
        `${layout.index} does not exist`,
        'Run `certfleet pki init` first.',
      );
    }
    throw new UserError('cannot read the PKI index', `${layout.index}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as PkiIndex;
    if (
      parsed.version !== 1 ||
      typeof parsed.identities !== 'object' ||
      parsed.identities === null ||
      !parsed.crls
    )
      throw new Error('unexpected shape');
    // Ids are user input: looked up in a map without a prototype, `__proto__` or `constructor` is just a missing id.
    parsed.identities = Object.assign(Object.create(null) as Record<string, IndexEntry>, parsed.identities);
    return parsed;
  } catch (error) {
    throw new UserError(
      'the PKI index is corrupt',
      `${layout.index}: ${(error as Error).message}`,
      'Restore it from a backup, or start over with `certfleet pki init --force`.',
    );
  }
}

export async function writeIndex(layout: PkiLayout, index: PkiIndex): Promise<void> {
  await writeFileAtomic(layout.index, `${JSON.stringify(index, null, 2)}\n`, 0o644);
}

export { withPkiLock } from './pki-lock.ts';
