/** The `certfleet` command's basics as a user meets them: version, help, typos, a bad state directory. */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CERTFLEET, makeStateDir, run } from '../helpers/pki-fixture.ts';

const cli = (...args: string[]) => run(process.execPath, [CERTFLEET, ...args], { timeout: 60_000 });
const VERSION = (
  JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** A user mistake: exit 1, one `ERROR:` line first, never a stack trace. */
function expectUserError(result: { code: number; stderr: string }, text: string): void {
  expect(result.code).toBe(1);
  expect(result.stderr.split('\n')[0]).toMatch(/^ERROR: /);
  expect(result.stderr).toContain(text);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr).not.toContain('internal error');
}

describe('certfleet basics', () => {
  it('--version prints the package version', async () => {
    const result = await cli('--version');
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it('help lists the commands; help <command> shows that command', async () => {
    const all = await cli('help');
    expect(all.code).toBe(0);
    for (const name of ['pki', 'broker', 'devices', 'ui', 'help'])
      expect(all.stdout).toMatch(new RegExp(`\\n  ${name}\\b`));
    const one = await cli('help', 'devices');
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('Usage: certfleet devices');
  });

  it.each([
    ['pkk', "unknown command 'pkk' (did you mean 'pki'?)"],
    ['devcies', "unknown command 'devcies' (did you mean 'devices'?)"],
    ['teapot', "unknown command 'teapot'; commands: pki, broker, devices, check, ui"],
  ])('a typo (%s) is named, with a suggestion, not "too many arguments"', async (typo, text) => {
    const result = await cli(typo, 'run');
    expectUserError(result, text);
    expect(result.stderr).not.toContain('too many arguments');
  });

  it('a state dir that is a file: one line, exit 1, nothing written', async () => {
    const { dir, cleanup } = await makeStateDir();
    onTestFinished(cleanup);
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    expectUserError(
      await cli('--state-dir', file, 'pki', 'init'),
      `ERROR: cannot use state directory ${file}: it is a file, not a directory`,
    );
    expectUserError(
      await cli('--state-dir', join(file, 'below'), 'pki', 'list'),
      `${file} is not a directory`,
    );
  });

  it('a state dir where nothing can be created (/proc) fails at once instead of spinning', async () => {
    const result = await cli('--state-dir', '/proc/nope', 'pki', 'init');
    expectUserError(result, 'ERROR: cannot write state directory /proc/nope');
  });

  it('bad option values name the option', async () => {
    const [duration, sensors] = await Promise.all([
      cli('devices', 'run', '--duration', 'soon'),
      cli('ui', '--sensors', 'many'),
    ]);
    expectUserError(duration, 'ERROR: invalid --duration: "soon"');
    expectUserError(sensors, '--sensors must be a whole number from 0 to 10000');
  });
});
