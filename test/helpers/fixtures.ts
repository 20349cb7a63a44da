/**
 * Vitest fixtures that tear themselves down, the way aedes' test helper registers `t.after` the moment it creates
 * something — so no test file copies PKI + broker setup, and no broker outlives the test that started it:
 * - `stateDir`: one real PKI per test file (initPki, plus `observer-*` identities in the policy), removed when the
 *   file ends;
 * - `cleanup(action)`: anything else a test starts, undone (last first) when the test ends;
 * - `startBroker(strict?)`: our broker on the file's PKI, closed when the test ends.
 */
import { rm } from 'node:fs/promises';
import { test as base } from 'vitest';
import type { RunningBroker } from '../../broker/index.ts';
import { ourBroker, pkiStateDir } from './devices-fixture.ts';

export const test = base
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this destructuring
  .extend('stateDir', { scope: 'file' }, async ({}, { onCleanup }) => {
    const removals: Array<() => unknown> = [];
    const dir = await pkiStateDir((action) => removals.push(action));
    onCleanup(async () => {
      for (const action of removals.reverse()) await action();
      await rm(dir, { recursive: true, force: true });
    });
    return dir;
  })
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this destructuring
  .extend('cleanup', async ({}, { onCleanup }) => {
    const actions: Array<() => unknown> = [];
    onCleanup(async () => {
      for (const action of actions.splice(0).reverse()) await action();
    });
    return (action: () => unknown) => {
      actions.push(action);
    };
  })
  .extend('startBroker', async ({ stateDir, cleanup }) => {
    return (strict = false): Promise<RunningBroker> => ourBroker(stateDir, cleanup, strict);
  });
