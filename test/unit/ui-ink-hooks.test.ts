/**
 * The dashboard's Ink hooks (ui/ink/hooks.js) replace Ink's text measuring with remembered, bounded equivalents: Ink
 * then draws exactly what it draws without them. Each side runs in its own Node process (hooks must be registered
 * before Ink loads): the same tree — wide and combining characters, emoji, colours, wrapping and truncation — is
 * rendered to a string with and without the hooks.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const SCRIPT = join(REPO, 'test/helpers/ink-hooks-render.ts');

function render(...args: string[]): { hooked: boolean; active: boolean; output: string } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '3' },
  });
  return JSON.parse(out);
}

it('Ink draws the same with its text measuring remembered as without', () => {
  const plain = render();
  const hooked = render('--hooks');
  expect(plain.active).toBe(false);
  expect(hooked).toMatchObject({ hooked: true, active: true });
  expect(hooked.output).toBe(plain.output);
  expect(hooked.output).toContain('\u001b[31m'); // colours on
  expect(hooked.output).toContain('漢字');
}, 60_000);
