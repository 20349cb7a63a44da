import type { KeyObject } from 'node:crypto';
import type { LeafPrototype } from './leaf-der.ts';
import type { KeyType } from './types.ts';

/** One leaf for a worker to make: its own key pair, a certificate around `prototypes[prototype]`, signed. */
export interface LeafJob {
  commonName: string;
  keyType: KeyType;
  prototype: number;
  notBefore: number;
  notAfter: number;
  serialHex: string;
}

export interface MadeLeaf {
  certPem: string;
  keyPem: string;
  /** 'ec-p256' or 'rsa-2048'. */
  keyDescription: string;
}

/** A file to write as a temporary next to its final path (the path is `dir/name`). */
export interface StageFile {
  dir: string;
  name: string;
  data: string;
  mode: number;
}

export type ToLeafWorker =
  | { type: 'make'; request: number; issuerKey: KeyObject; prototypes: LeafPrototype[]; jobs: LeafJob[] }
  | { type: 'stage'; request: number; files: StageFile[] }
  | { type: 'rename'; request: number; renames: Array<[from: string, to: string]> }
  /** syncfs(2) of the file system holding `path`: every file written to it so far is on disk when it answers. */
  | { type: 'syncfs'; request: number; path: string };

export type FromLeafWorker =
  | { type: 'made'; request: number; leaves: MadeLeaf[] }
  | { type: 'staged'; request: number; temps: string[] }
  | { type: 'renamed'; request: number }
  | { type: 'synced'; request: number }
  | { type: 'failed'; request: number; message: string; code?: string };
