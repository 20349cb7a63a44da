/** Starts a TypeScript module in a worker thread (see ts-worker-entry.js for why a JS entry is needed). */
import { Worker } from 'node:worker_threads';

export function startTsWorker(entry: URL, data: Record<string, unknown> = {}): Worker {
  return new Worker(new URL('./ts-worker-entry.js', import.meta.url), {
    workerData: { ...data, entry: entry.href },
  });
}
