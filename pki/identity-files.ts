import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { identityDir, identityFiles } from './layout.ts';
import type { PkiLayout } from './types.ts';

export interface IdentityMaterial {
  id: string;
  certPem: string;
  keyPem: string;
  /** PEM of the CA certificates to append after the leaf in chain.pem. */
  chainTailPem: string;
}

/** Key first (0600), then the certificate, then the chain: a reader that finds chain.pem finds the rest. */
export async function writeIdentityFiles(layout: PkiLayout, material: IdentityMaterial): Promise<void> {
  const files = identityFiles(layout, material.id);
  await mkdir(identityDir(layout, material.id), { recursive: true, mode: 0o755 });
  await writeFileAtomic(files.key, material.keyPem, { mode: 0o600, parentExists: true });
  await writeFileAtomic(files.cert, material.certPem, { parentExists: true });
  await writeFileAtomic(files.chain, material.certPem + material.chainTailPem, { parentExists: true });
}
