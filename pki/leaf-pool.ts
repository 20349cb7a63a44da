/**
 * The leaf worker threads of this process (pki/leaf-worker.ts): one per core, started in the background by the
 * first bulk issue and kept for the next. Idle workers are unref'd, so they never keep a command alive; one that
 * dies fails what it was doing and is replaced on the next request.
 *
 * A worker is given its code as one plain-JavaScript bundle made by esbuild (the compiler tsx runs on): a worker
 * that registered tsx itself took 1.3–3 s to answer on a busy 2-core machine (a loader thread and a compiler per
 * worker) — longer than the whole batch it was meant to speed up. The bundle is made once per process (~50 ms,
 * asynchronously), and a batch never waits for it: the calling thread makes leaves until workers join in.
 */
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

  constructor(code: string) {
    this.worker = new Worker(code, { eval: true });
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

let bundle: Promise<string | null> | null = null;

/** The worker's code as one script; null when it cannot be made (then the calling thread does all the work). */
function workerCode(): Promise<string | null> {
  bundle ??= import('esbuild')
    .then(async ({ build, stop }) => {
      const result = await build({
        entryPoints: [fileURLToPath(new URL('./leaf-worker.ts', import.meta.url))],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        write: false,
        logLevel: 'silent',
      });
      await stop(); // esbuild's compiler process is not needed again in this process
      return result.outputFiles[0]!.text;
    })
    .catch(() => null);
  return bundle;
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
 * Nothing is called when workers cannot be made.
 */
function whenWorkersReady(onReady: (worker: LeafWorker) => void): void {
  void workerCode().then((code) => {
    if (code === null) return;
    for (let i = 0; i < leafWorkerCount(); i++) {
      if (!workers[i] || workers[i]!.dead) workers[i] = new LeafWorker(code);
      const worker = workers[i]!;
      worker.send({ type: 'rename', renames: [] }).then(
        () => onReady(worker),
        () => {},
      );
    }
  });
}

/** A leaf worker that has answered, if the pool is up or comes up; null when workers cannot be made. */
export function readyLeafWorker(): Promise<LeafWorker | null> {
  const running = workers.find((worker) => !worker.dead);
  if (running) return Promise.resolve(running);
  return new Promise((resolve) => {
    void workerCode().then((code) => code === null && resolve(null));
    whenWorkersReady(resolve);
  });
}

/**
 * Runs `here` on each chunk, on this thread, one chunk per turn of the event loop, until leaf workers are ready;
 * from then on only the workers take chunks (this thread stays free for a UI or sockets, and the cores are theirs).
 * A batch therefore never waits for a worker to start. Results in chunk order. A chunk whose worker died is done
 * again by someone else.
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
  let workersReady = 0;
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
  if (options.useWorkers && chunks.length > 1)
    whenWorkersReady((worker) => {
      workersReady++;
      takeOn(worker);
    });
  try {
    for (;;) {
      if (failure !== null) throw failure;
      const next = workersReady > 0 && inFlight.size > 0 ? undefined : queue.shift();
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
