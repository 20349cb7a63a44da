/**
 * The row cache over Ink's output stage (ui/ink-row-cache.ts) writes exactly what Ink would: every frame of a
 * dashboard session — device list, detail pane, full-screen view, help, log — at 80×24 and 160×45, with colours, is
 * composed both ways from the same Output and compared byte for byte; and a row changed by the data shows its new
 * text (the cache never serves a stale row).
 */
import chalk from 'chalk';
import { Box, Text } from 'ink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../ui/App.tsx';
import { installRowCache, type OutputLike, type RowCache } from '../../ui/ink-row-cache.ts';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import {
  added,
  failedAttempt,
  fakeControls,
  KEYS,
  online,
  renderAt,
  waitForContent,
} from '../helpers/ui-render.ts';

let cache: RowCache;
const frames: { ours: string; ink: string }[] = [];
const level = chalk.level;

beforeAll(async () => {
  chalk.level = 3; // compare the colour codes too
  const installed = await installRowCache();
  if (!installed) throw new Error('the row cache does not know this Ink version');
  cache = installed;
  const cached = cache.Output.prototype.get;
  // Every frame: our text and Ink's own, from the same operations.
  cache.Output.prototype.get = function compareBoth(this: OutputLike) {
    const ours = cached.call(this);
    frames.push({ ours: ours.output, ink: cache.inkGet.call(this).output });
    return ours;
  };
});
afterAll(() => {
  cache.uninstall();
  chalk.level = level;
});

function fleet(count: number): FleetStore {
  const store = new FleetStore({ frameMs: 0 });
  store.setBroker({ host: '127.0.0.1', port: 8883, startedAt: Date.now(), caFingerprint: 'AA:BB' });
  for (let i = 1; i <= count; i++) {
    const id = `sensor-${String(i).padStart(3, '0')}`;
    store.applyDeviceEvent(added(id));
    store.applyDeviceEvent(online(id));
    store.applyDeviceEvent({
      type: 'telemetry',
      id,
      seq: 1,
      reading: { temperature: 20 + i / 10 },
      at: Date.now(),
    });
  }
  store.applyDeviceEvent(added('rogue-expired', 'expired', true));
  store.applyDeviceEvent({
    type: 'ladder',
    id: 'rogue-expired',
    attempt: failedAttempt('client-verified', 'EXPIRED'),
    at: 1,
  });
  store.applyDeviceEvent({
    type: 'rejected',
    id: 'rogue-expired',
    reason: 'EXPIRED',
    step: 'client-verified',
    detail: 'CERT_HAS_EXPIRED',
    at: 1,
  });
  return store;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 30));

describe('Ink output through the row cache', () => {
  for (const [columns, rows] of [
    [80, 24],
    [160, 45],
  ] as const) {
    it(`is byte for byte Ink's own at ${columns}×${rows}, frame after frame`, async () => {
      frames.length = 0;
      const store = fleet(60);
      const app = renderAt(<App store={store} controls={fakeControls()} />, columns, rows);
      try {
        await waitForContent(app.lastFrame, 'sensor-001');
        // A row the data changes shows the change (its key differs, so it is composed again).
        store.applyDeviceEvent({
          type: 'telemetry',
          id: 'sensor-001',
          seq: 2,
          reading: { temperature: 99.5 },
          at: Date.now(),
        });
        await waitForContent(app.lastFrame, '99.5°C');
        const keys = ['j', 'j', KEYS.pageDown, KEYS.end, '\r', KEYS.escape, '\t', 'k', '?', KEYS.escape];
        for (const key of keys) {
          app.stdin.write(key);
          await pause();
        }
      } finally {
        app.unmount();
      }
      expect(frames.length).toBeGreaterThan(10);
      for (const { ours, ink } of frames) expect(ours).toBe(ink);
      expect(frames.at(-1)?.ours).toContain('\u001b['); // colours were on
    });
  }

  it('clips and colours a line like Ink (a transformer after a horizontal clip, a write above a clip)', async () => {
    frames.length = 0;
    const tree = (
      <Box flexDirection="column">
        <Box width={12} height={2} overflowX="hidden" overflowY="hidden" borderStyle="single">
          <Text color="red">{'a line much wider than its box\nsecond'}</Text>
        </Box>
        <Box marginTop={-1} height={1} overflow="hidden">
          <Text backgroundColor="blue">{'over the border'}</Text>
        </Box>
      </Box>
    );
    const app = renderAt(tree, 40, 10);
    await waitForContent(app.lastFrame, 'over');
    app.unmount();
    expect(frames.length).toBeGreaterThan(0);
    for (const { ours, ink } of frames) expect(ours).toBe(ink);
  });
});
