import { readFile } from 'node:fs/promises';
import { UserError } from '../core/user-error.ts';

/** Reads a file the PKI needs; a missing one means there is no PKI yet, anything else names the file. */
export async function readPkiFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        'no certificate authority',
        `${path} does not exist`,
        'Run `certfleet pki init` first.',
      );
    }
    throw new UserError('cannot read a PKI file', `${path}: ${(error as Error).message}`);
  }
}
