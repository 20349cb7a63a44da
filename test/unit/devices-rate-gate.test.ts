/**
 * The fleet's connection gate: slots spaced by the rate, and no more handshakes in flight than its cap — the next
 * waits until one ends, so a fleet that dials faster than handshakes complete slows down instead of piling up.
 */
import { expect, it } from 'vitest';
import { RateGate } from '../../devices/rate-gate.ts';

it('holds a caller past the in-flight cap until a handshake ends, then hands it that slot', async () => {
  const gate = new RateGate(1_000, 2);
  const started: number[] = [];
  const callers = [0, 1, 2, 3].map((n) => gate.acquire().then(() => started.push(n)));
  await Promise.race([Promise.all(callers), new Promise((resolve) => setTimeout(resolve, 50))]);
  expect(started).toEqual([0, 1]);
  expect(gate.active).toBe(2);
  gate.release();
  await callers[2];
  expect(started).toEqual([0, 1, 2]);
  expect(gate.active).toBe(2); // handed over, not freed and taken again
  gate.release();
  gate.release();
  await callers[3];
  gate.release();
  expect(gate.active).toBe(0);
});

it('caps in flight at half a second of the rate by default; no rate, no cap', () => {
  expect(new RateGate(250).maxInFlight).toBe(125);
  expect(new RateGate(2).maxInFlight).toBe(4);
  expect(new RateGate(0).maxInFlight).toBe(Number.POSITIVE_INFINITY);
});

it('spaces the slots by the rate', async () => {
  const gate = new RateGate(20); // one per 50 ms
  const began = Date.now();
  for (let i = 0; i < 4; i++) {
    await gate.acquire();
    gate.release();
  }
  expect(Date.now() - began).toBeGreaterThanOrEqual(140);
});
