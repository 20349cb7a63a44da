import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Maps `work` over `items` with at most `limit` in flight, results in input order. Each runner yields to the event
 * loop after every item, so a batch of thousands never holds the loop (timers, sockets, a UI) for more than one item.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
  onDone: () => void = () => {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
      onDone();
      await nextTurn();
    }
  });
  await Promise.all(runners);
  return results;
}
