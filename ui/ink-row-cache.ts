/**
 * A row cache for Ink's output stage. Ink (6.8) turns every frame into text in `Output.get()`: it builds a grid of
 * one object per terminal cell, tokenizes every written line's ANSI codes into per-character objects, and joins the
 * cells back into strings — for the whole screen, every frame, with no memory of the previous one. At 160×45 that is
 * 7,200 cells and most of a frame's CPU (with the garbage it leaves for the GC), although a keystroke usually
 * changes two rows.
 *
 * This wraps `Output.prototype.get`: it walks the frame's operations itself (clips, transformers, which lines land
 * on which row — the same rules as Ink's loop), keys each row by what was written on it, and composes only the rows
 * whose key it has not seen recently, each with Ink's own `get()` on a one-row Output. The text of a row is
 * therefore exactly what Ink would have produced (test/unit/ui-row-cache.test.tsx renders the dashboard both ways).
 *
 * Installed only for the Ink version it was written against; anything else renders the standard way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Transformer = (line: string, index: number) => string;
interface Clip {
  x1?: number;
  x2?: number;
  y1?: number;
  y2?: number;
}
type Operation =
  | { type: 'write'; x: number; y: number; text: string; transformers: Transformer[] }
  | { type: 'clip'; clip: Clip }
  | { type: 'unclip' };
export interface OutputLike {
  width: number;
  height: number;
  operations: Operation[];
  /** Ink's per-Output memo of character widths and tokenized lines (6.8). */
  caches?: unknown;
  get(): { output: string; height: number };
}
export type OutputClass = (new (options: {
  width: number;
  height: number;
}) => OutputLike) & {
  prototype: OutputLike;
};

export interface RowCache {
  /** Ink's Output class, as patched. */
  Output: OutputClass;
  /** Ink's own get(), for comparison. */
  inkGet: OutputLike['get'];
  /** Puts Ink's own get() back. */
  uninstall(): void;
}

/** The Ink versions whose Output this was checked against (operations, clip semantics, get()'s result). */
const SUPPORTED = /^6\.8\./;
/** Rows kept from earlier frames (two generations of at most this many): a few screens' worth. */
const GENERATION = 1000;

function inkRoot(): string {
  return dirname(dirname(createRequire(import.meta.url).resolve('ink')));
}

/** True for the Ink versions this (and ./ink/hooks.js) was checked against. */
export function inkSupported(): boolean {
  const { version } = JSON.parse(readFileSync(join(inkRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return SUPPORTED.test(version);
}

async function loadOutput(): Promise<OutputClass | undefined> {
  if (!inkSupported()) return undefined;
  const root = inkRoot();
  // Not in Ink's exports map: loaded by file URL, the very module instance Ink's renderer uses.
  const module = (await import(pathToFileURL(join(root, 'build', 'output.js')).href)) as {
    default: OutputClass;
  };
  return module.default;
}

/** One row's share of a write: the row, the line of the write that lands on it, and the clip in force. */
interface RowPiece {
  x: number;
  line: string;
  index: number;
  transformers: Transformer[];
  clip?: Clip;
}

/**
 * The pieces of every row, following Output.get's loop: vertical clips drop lines (and re-index the rest), a write
 * entirely outside a clip is skipped, and a write whose first line falls outside the grid is dropped whole.
 */
function rowsOf(output: OutputLike): RowPiece[][] {
  const rows: RowPiece[][] = Array.from({ length: output.height }, () => []);
  const clips: Clip[] = [];
  for (const operation of output.operations) {
    if (operation.type === 'clip') clips.push(operation.clip);
    else if (operation.type === 'unclip') clips.pop();
    else {
      let { y } = operation;
      let lines = operation.text.split('\n');
      const clip = clips.at(-1);
      if (clip && typeof clip.y1 === 'number' && typeof clip.y2 === 'number') {
        if (y + lines.length < clip.y1 || y > clip.y2) continue;
        const from = y < clip.y1 ? clip.y1 - y : 0;
        const to = y + lines.length > clip.y2 ? clip.y2 - y : lines.length;
        lines = lines.slice(from, to);
        if (y < clip.y1) y = clip.y1;
      }
      const horizontal = clip && typeof clip.x1 === 'number' && typeof clip.x2 === 'number';
      for (const [index, line] of lines.entries()) {
        const row = rows[y + index];
        if (!row) break; // Ink stops at the first line outside the grid
        row.push({
          x: operation.x,
          line,
          index,
          transformers: operation.transformers,
          ...(horizontal && { clip: { x1: clip.x1, x2: clip.x2 } }),
        });
      }
    }
  }
  return rows;
}

/** Installs the cache (undefined: an Ink version it does not know, left alone). */
export async function installRowCache(): Promise<RowCache | undefined> {
  const Output = await loadOutput();
  if (!Output) return undefined;
  const original = Output.prototype.get;
  let current = new Map<string, string>();
  let previous = new Map<string, string>();
  // Ink memoizes character widths and tokenized lines per Output, i.e. per frame; the one-row Outputs share one memo
  // instead (renewed with the row generations, so it stays bounded).
  const newMemo = () => new Output({ width: 0, height: 0 }).caches;
  let memo = newMemo();

  const composeRow = (width: number, pieces: RowPiece[], transformed: boolean): string => {
    const row = new Output({ width, height: 1 });
    if (memo !== undefined) row.caches = memo;
    for (const piece of pieces) {
      if (piece.clip) row.operations.push({ type: 'clip', clip: piece.clip });
      row.operations.push({
        type: 'write',
        x: piece.x,
        y: 0,
        text: piece.line,
        // Already applied when the row is cached (see below); Ink's index is the line's within the write.
        transformers: transformed
          ? []
          : piece.transformers.map((t) => (line: string) => t(line, piece.index)),
      });
      if (piece.clip) row.operations.push({ type: 'unclip' });
    }
    return original.call(row).output;
  };

  Output.prototype.get = function cachedGet(this: OutputLike) {
    const texts: string[] = [];
    for (const pieces of rowsOf(this)) {
      // A transformer applied after a horizontal clip sees the clipped line: such a row is composed as Ink would,
      // uncached. Otherwise the transformed line is what lands on the row, and the row is a function of those.
      if (pieces.some((piece) => piece.clip && piece.transformers.length > 0)) {
        texts.push(composeRow(this.width, pieces, false));
        continue;
      }
      for (const piece of pieces) {
        for (const transformer of piece.transformers) piece.line = transformer(piece.line, piece.index);
      }
      const key = `${this.width}\u0000${pieces.map((p) => `${p.x}\u0001${p.clip?.x1 ?? ''}\u0001${p.clip?.x2 ?? ''}\u0001${p.line}`).join('\u0000')}`;
      let text = current.get(key) ?? previous.get(key);
      if (text === undefined) text = composeRow(this.width, pieces, true);
      current.set(key, text);
      texts.push(text);
    }
    if (current.size > GENERATION) {
      previous = current;
      current = new Map();
      memo = newMemo();
    }
    return { output: texts.join('\n'), height: this.height };
  };
  return {
    Output,
    inkGet: original,
    uninstall: () => {
      Output.prototype.get = original;
    },
  };
}
