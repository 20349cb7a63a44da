/**
 * Reads a policy file: YAML → schema → compiled policy. Every error names the file, the line and the entry,
 * e.g. `policy.yaml:9: identities[0].publish[1]: "devices/#/x": '#' must be a whole level and the last one`.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { core } from 'zod';
import { UserError } from '../core/user-error.ts';
import { compilePolicy, type Policy } from './policy.ts';
import { policySchema } from './policy-schema.ts';

export async function loadPolicy(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read policy ${file}`,
      code === 'ENOENT' ? 'the file does not exist' : String((error as Error).message),
      'run `certfleet pki init` to write the default policy, or pass --policy <file>',
    );
  }
  return parsePolicy(text, file);
}

export function parsePolicy(text: string, file: string): Policy {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map(
      (e) => `${file}:${e.linePos?.[0].line ?? '?'}: ${firstLine(e.message)}`,
    );
    throw invalid(file, problems);
  }
  const result = policySchema.safeParse(toData(document, lineCounter, file));
  if (!result.success) {
    throw invalid(
      file,
      result.error.issues.map((issue) => describeIssue(issue, document, lineCounter, file)),
    );
  }
  return compilePolicy(result.data, file);
}

/**
 * Aliases are allowed (a shared topic list is a fair use), but bounded: nine lines of nested aliases expand to
 * millions of nodes (a "billion laughs" alias bomb), so past MAX_ALIAS_COUNT expansions the file is refused and the
 * error names the line of its first alias.
 */
export const MAX_ALIAS_COUNT = 100;

function toData(document: Document, lines: LineCounter, file: string): unknown {
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
    throw invalid(file, [
      `${file}:${line ?? '?'}: YAML aliases expand to too much data (an alias bomb?): at most ${MAX_ALIAS_COUNT} alias expansions are allowed; write the lists out instead`,
    ]);
  }
}

function invalid(file: string, problems: string[]): UserError {
  return new UserError(
    `invalid policy ${file}`,
    problems.length === 1 ? problems[0]! : `\n  ${problems.join('\n  ')}`,
    'see broker/policy-schema.ts for the format; quote filters that contain {cn} ("devices/{cn}/#")',
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
