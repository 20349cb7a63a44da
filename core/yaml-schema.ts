/**
 * Reads a YAML file against a zod schema with errors a person can act on: every problem names the file, the line
 * and the entry (`scenario.yaml:7: rogues[2].kind: unknown rogue kind "expird"`). The same approach as the broker's
 * policy loader, for any other YAML input (the check scenarios).
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { core, z } from 'zod';
import { UserError } from './user-error.ts';

/** A YAML alias bomb expands exponentially: a hand-written file never needs more aliases than this. */
const MAX_ALIASES = 100;

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
  let plain: unknown;
  try {
    plain = document.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    throw invalid(file, [`${file}: ${firstLine((error as Error).message)}`], input);
  }
  const result = schema.safeParse(plain);
  if (!result.success) {
    throw invalid(
      file,
      result.error.issues.map((issue) => describeIssue(issue, document, lineCounter, file)),
      input,
    );
  }
  return result.data;
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
