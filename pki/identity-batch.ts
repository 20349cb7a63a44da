/**
 * Writing a batch of identities' files with one durability pass instead of three fsyncs per identity:
 *
 *   stage: every file of the batch goes to a temporary name next to its final path (key 0600 from birth), no fsync;
 *   durable: one pass makes all of them durable — syncfs(2) of the store's file system (coreutils `sync -f`: Node has
 *            no binding for it) for a big batch, or an fsync of every file in parallel;
 *   publish: each identity's temporaries are renamed over their final names, key → cert → chain;
 *   settle: the renames are made durable (syncfs again, or an fsync of each directory).
 *
 * The caller orders these around the journal and the index (issue.ts commitIdentities), and recovery.ts removes the
 * temporaries of a batch a crash interrupted. A key is renamed into place only once its bytes are on disk, so a crash
 * — even a power cut — leaves a whole key or none. The file system, not a thread, is the limit of a bulk issue:
 * measured on this machine's ext4, ~3 fsyncs per identity capped it near 500/s.
 */
import { open } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { mapConcurrently } from '../core/concurrency.ts';
import type { IdentityMaterial } from './identity-files.ts';
import { readyLeafWorker, shareChunks } from './leaf-pool.ts';
import type { FromLeafWorker, StageFile } from './leaf-worker-protocol.ts';
import { identityDir } from './layout.ts';
import { renameAllSync, stageFilesSync } from './stage-files.ts';
import type { PkiLayout } from './types.ts';

/** From this many files on, one syncfs beats an fsync per file (a process start costs a few ms). */
const SYNCFS_FROM_FILES = 24;
/**
 * Identities per chunk (three files each): a chunk written on the calling thread blocks it for ~1–15 ms, and a
 * message to a worker is worth its cost.
 */
const IDENTITIES_PER_CHUNK = 16;
/** fsyncs in flight in the fallback pass: the file system commits concurrent ones together. */
const FSYNC_CONCURRENCY = 32;

export interface StagedIdentity {
  id: string;
  /** [temporary, final] in publishing order: key, cert, chain. */
  renames: Array<[string, string]>;
}

function filesOf(layout: PkiLayout, material: IdentityMaterial): Array<StageFile & { final: string }> {
  const dir = identityDir(layout, material.id); // normalized once: the file names are appended, not joined
  return [
    { dir, name: 'key.pem', data: material.keyPem, mode: 0o600, final: `${dir}${sep}key.pem` },
    { dir, name: 'cert.pem', data: material.certPem, mode: 0o644, final: `${dir}${sep}cert.pem` },
    {
      dir,
      name: 'chain.pem',
      data: material.certPem + material.chainTailPem,
      mode: 0o644,
      final: `${dir}${sep}chain.pem`,
    },
  ];
}

export function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

/**
 * Writes every file of the batch to a temporary name, in chunks shared by this thread and the leaf workers (a
 * file's creation is kernel work — ~20 µs on a fresh ext4 directory, up to ~300 µs where many inodes were just
 * freed — so a big batch wants every core). Nothing is durable yet.
 */
export async function stageIdentityFiles(
  layout: PkiLayout,
  materials: IdentityMaterial[],
  useWorkers: boolean,
): Promise<StagedIdentity[]> {
  // Each chunk lays out its own paths, so a batch of thousands is never one long turn of the event loop.
  type File = StageFile & { final: string };
  const staged = (part: IdentityMaterial[], files: File[], temps: string[]): StagedIdentity[] =>
    part.map((material, i) => ({
      id: material.id,
      renames: [0, 1, 2].map((k) => [temps[i * 3 + k]!, files[i * 3 + k]!.final] as [string, string]),
    }));
  const parts = await shareChunks(
    chunks(materials, IDENTITIES_PER_CHUNK),
    (part) => {
      const files = part.flatMap((material) => filesOf(layout, material));
      return staged(part, files, stageFilesSync(files));
    },
    async (worker, part) => {
      const files = part.flatMap((material) => filesOf(layout, material));
      const reply = await worker.send<Extract<FromLeafWorker, { type: 'staged' }>>({
        type: 'stage',
        files: files.map(({ dir, name, data, mode }) => ({ dir, name, data, mode })),
      });
      return staged(part, files, reply.temps);
    },
    { useWorkers },
  );
  return parts.flat();
}

/** One syncfs of the store's file system, through a leaf worker; false when that is not possible here. */
async function syncfs(path: string): Promise<boolean> {
  const worker = await readyLeafWorker();
  if (!worker) return false;
  return worker.send({ type: 'syncfs', path }).then(
    () => true,
    () => false,
  );
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes the given files (or directories) durable: for a big batch one syncfs of their file system, else an fsync of
 * each, in parallel (the file system commits concurrent ones together).
 */
export async function makeDurable(layout: PkiLayout, paths: string[], useWorkers: boolean): Promise<void> {
  if (useWorkers && paths.length >= SYNCFS_FROM_FILES && (await syncfs(layout.pkiDir))) return;
  await mapConcurrently(paths, FSYNC_CONCURRENCY, fsyncPath);
}

/** Renames each identity's temporaries into place: key, cert, chain. */
export async function renameIdentityFiles(staged: StagedIdentity[], useWorkers: boolean): Promise<void> {
  await shareChunks(
    chunks(staged, IDENTITIES_PER_CHUNK),
    (part) => renameAllSync(part.flatMap((identity) => identity.renames)),
    async (worker, part) => {
      await worker.send({ type: 'rename', renames: part.flatMap((identity) => identity.renames) });
    },
    { useWorkers },
  );
}

/** Makes the renames durable: the directories that gained entries. */
export async function makeRenamesDurable(
  layout: PkiLayout,
  staged: StagedIdentity[],
  useWorkers: boolean,
): Promise<void> {
  // The directories that gained entries: each identity's, and the folders above them (new identity directories).
  const dirs = new Set<string>();
  for (const identity of staged) {
    const dir = dirname(identity.renames[0]![1]);
    dirs.add(dir);
    dirs.add(dirname(dir));
  }
  await makeDurable(layout, [...dirs], useWorkers);
}
