/**
 * Reads a YAML file against a zod schema with errors a person can act on: every problem names the file, the line
 * and the entry (`scenario.yaml:7: rogues[2].kind: unknown rogue kind "expird"`). Used for the broker's policy and
 * the check scenarios.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { core, z } from 'zod';
import { UserError } from './user-error.ts';

/**
 * Aliases are allowed (a shared list is a fair use), but bounded: nine lines of nested aliases expand to millions of
 * nodes (a "billion laughs" alias bomb), so past MAX_ALIAS_COUNT expansions the file is refused and the error names
 * the line of its first alias.
 */
export const MAX_ALIAS_COUNT = 100;

export interface YamlInput {
  /** What the file is, for the error ("scenario", "policy"). */
  what: string;
  /** What to do about an invalid file. */
  hint: string;
}

export function parseYamlWithSchema<Schema extends z.ZodType>(
  text: string,
  file: string,
  schema: Schema,
  input: YamlInput,
): z.infer<Schema> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map(
      (e) => `${file}:${e.linePos?.[0].line ?? '?'}: ${firstLine(e.message)}`,
    );
    throw invalid(file, problems, input);
  }
  const result = schema.safeParse(toData(document, lineCounter, file, input));
  if (!result.success) {
    throw invalid(
      file,
      result.error.issues.map((issue) => describeIssue(issue, document, lineCounter, file)),
      input,
    );
  }
  return result.data;
}

function toData(document: Document, lines: LineCounter, file: string, input: YamlInput): unknown {
  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let line: number | undefined;
    visit(document, {
      Alias(_key, node) {
        if (node.range) line = lines.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    throw invalid(
      file,
      [
        `${file}:${line ?? '?'}: YAML aliases expand to too much data (an alias bomb?): at most ${MAX_ALIAS_COUNT} alias expansions are allowed; write the lists out instead`,
      ],
      input,
    );
  }
}

function invalid(file: string, problems: string[], input: YamlInput): UserError {
  return new UserError(
    `invalid ${input.what} ${file}`,
    problems.length === 1 ? problems[0]! : `\n  ${problems.join('\n  ')}`,
    input.hint,
  );
}

function describeIssue(issue: core.$ZodIssue, document: Document, lines: LineCounter, file: string): string {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const line = lineOf(document, lines, path, issue);
  const where = path.length > 0 ? `${formatPath(path)}: ` : '';
  return `${file}:${line ?? '?'}: ${where}${issue.message}`;
}

/** The line of the deepest YAML node on the path (the key itself for an unknown key). */
function lineOf(
  document: Document,
  lines: LineCounter,
  path: (string | number)[],
  issue: core.$ZodIssue,
): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true);
    if (!node || typeof node !== 'object') continue;
    if (issue.code === 'unrecognized_keys' && depth === path.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && issue.keys.includes(String(p.key.value)));
      const offset = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
      if (offset !== undefined) return lines.linePos(offset).line;
    }
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return lines.linePos(range[0]).line;
  }
  return undefined;
}

function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** The text of a file the user named; a missing or unreadable one is a UserError saying what to do (`hint`). */
export async function readUserFile(file: string, what: string, hint: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read ${what} ${file}`,
      code === 'ENOENT' ? 'the file does not exist' : (error as Error).message,
      hint,
    );
  }
}
