/**
 * The leaf worker threads of this process (pki/leaf-worker.ts): one per core, started in the background by the
 * first bulk issue and kept for the next. Idle workers are unref'd, so they never keep a command alive; one that
 * dies fails what it was doing and is replaced on the next request.
 *
 * A worker runs its code as one plain-JavaScript bundle made by esbuild (the compiler tsx runs on) inside the worker:
 * a worker that registered tsx itself took 1.3–3 s to answer on a busy 2-core machine (a loader thread and a compiler
 * per worker) — longer than the whole batch it was meant to speed up; bundled, ~100–200 ms.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromLeafWorker, ToLeafWorker } from './leaf-worker-protocol.ts';

type Reply = FromLeafWorker;
export type LeafWorkerRequest = ToLeafWorker extends infer M
  ? M extends { request: number }
    ? Omit<M, 'request'>
    : never
  : never;

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

export class LeafWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextRequest = 1;
  dead = false;

  constructor(source: { esbuild: string; entry: string }) {
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: source });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.request);
      if (!waiting) return;
      this.pending.delete(reply.request);
      if (this.pending.size === 0) this.worker.unref();
      waiting.resolve(reply);
    });
    const fail = (error: Error) => {
      this.dead = true;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`a PKI worker thread exited (code ${code})`)));
  }

  send<R extends Reply>(request: LeafWorkerRequest): Promise<R> {
    if (this.dead) return Promise.reject(new Error('the PKI worker thread is gone'));
    const id = this.nextRequest++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref(); // a request in flight keeps the process alive until it is answered
      this.worker.postMessage({ ...request, request: id });
    }).then((reply) => {
      if (reply.type === 'failed') {
        throw Object.assign(new Error(reply.message), reply.code ? { code: reply.code } : {});
      }
      return reply as R;
    });
  }
}

/**
 * What each worker runs first: esbuild bundles pki/leaf-worker.ts and its imports into one script, in the worker (a
 * compiler process started from the event loop's thread stalled it ~50 ms, more in a big process), then runs it.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { buildSync } = require(workerData.esbuild);
const bundle = buildSync({
  entryPoints: [workerData.entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', write: false,
  logLevel: 'silent',
});
new Function('require', 'module', 'exports', bundle.outputFiles[0].text)(require, module, module.exports);
`;

/** Where esbuild and the worker's entry are; null when esbuild is missing (then the calling thread does the work). */
function workerSource(): { esbuild: string; entry: string } | null {
  try {
    return {
      esbuild: createRequire(import.meta.url).resolve('esbuild'),
      entry: fileURLToPath(new URL('./leaf-worker.ts', import.meta.url)),
    };
  } catch {
    return null;
  }
}

const workers: LeafWorker[] = [];

/** How many leaf worker threads this process has running (the bench and tests say whether a batch used them). */
export function runningLeafWorkers(): number {
  return workers.filter((worker) => !worker.dead).length;
}

/** How many leaf workers a bulk issue uses: one per core. */
export function leafWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Calls `onReady` with each worker once it has answered (at once when already running); a dead one is replaced.
 * `onNone` is called when no worker can be had: no bundle, or every worker failed to answer.
 */
function whenWorkersReady(onReady: (worker: LeafWorker) => void, onNone: () => void = () => {}): void {
  const source = workerSource();
  if (source === null) {
    onNone();
    return;
  }
  let failed = 0;
  for (let i = 0; i < leafWorkerCount(); i++) {
    if (!workers[i] || workers[i]!.dead) workers[i] = new LeafWorker(source);
    const worker = workers[i]!;
    worker.send({ type: 'rename', renames: [] }).then(
      () => onReady(worker),
      () => {
        if (++failed === leafWorkerCount()) onNone();
      },
    );
  }
}

/** Starts the workers now (a bulk issue calls this first, so they boot while it reads the CA and the index). */
export function startLeafWorkers(): void {
  whenWorkersReady(() => {});
}

/** A leaf worker that has answered, if the pool is up or comes up; null when workers cannot be made. */
export function readyLeafWorker(): Promise<LeafWorker | null> {
  const running = workers.find((worker) => !worker.dead);
  if (running) return Promise.resolve(running);
  return new Promise((resolve) => whenWorkersReady(resolve, () => resolve(null)));
}

/**
 * Runs the chunks on the leaf workers (`there`), two in flight per worker; the calling thread waits, free for a UI
 * or sockets — when it worked along with them on a 2-core machine, its slices of work were preempted by theirs and
 * the event loop stalled 200–500 ms. It runs a chunk itself (`here`, one per turn of the event loop) only when
 * workers are not wanted or cannot be made, or every worker died. Results in chunk order; a chunk whose worker died
 * is done again by someone else.
 */
export async function shareChunks<T, R>(
  chunks: T[],
  here: (chunk: T) => Promise<R> | R,
  there: (worker: LeafWorker, chunk: T) => Promise<R>,
  options: { useWorkers: boolean; onChunkDone?: (chunk: T) => void },
): Promise<R[]> {
  const onChunkDone = options.onChunkDone ?? (() => {});
  const results = new Array<R>(chunks.length);
  const queue = chunks.map((_, i) => i);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let finished = false;
  const takeOn = (worker: LeafWorker): void => {
    if (finished || failure !== null || worker.dead) return;
    const next = queue.shift();
    if (next === undefined) return;
    const job = there(worker, chunks[next]!).then(
      (result) => {
        results[next] = result;
        onChunkDone(chunks[next]!);
        takeOn(worker);
      },
      (error: unknown) => {
        if (worker.dead) queue.unshift(next);
        else failure ??= error;
      },
    );
    inFlight.add(job);
    void job.finally(() => inFlight.delete(job));
  };
  const first = options.useWorkers && chunks.length > 1 ? await readyLeafWorker() : null;
  if (first) {
    takeOn(first);
    whenWorkersReady((worker) => {
      takeOn(worker);
      takeOn(worker);
    });
  }
  try {
    for (;;) {
      if (failure !== null) throw failure;
      const next = inFlight.size > 0 ? undefined : queue.shift();
      if (next === undefined) {
        if (inFlight.size === 0 && queue.length === 0) break;
        await Promise.race(inFlight);
        continue;
      }
      results[next] = await here(chunks[next]!);
      onChunkDone(chunks[next]!);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (failure !== null) throw failure;
    return results;
  } finally {
    finished = true;
  }
}
