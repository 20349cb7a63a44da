/**
 * The fleet: devices spread round-robin over worker threads (one per core by default), a typed stream of batched
 * device events, and commands (add, remove, pause/resume, send command, revoke, stop). Rejections the device could
 * not explain are joined with the broker's audit when an explainer is given.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { revokeIdentity } from '../pki/index.ts';
import type { DeviceResult } from './device.ts';
import type { DeviceEvent } from './events.ts';
import type { FromWorker, ToWorker, WorkerSettings } from './fleet-protocol.ts';
import { type Explainer, type Explanation, refineAttempt } from './explain.ts';
import type { DeviceSpec } from './spec.ts';

export interface FleetOptions {
  /** Worker threads (default: one per core). */
  workers?: number;
  /** Cap on new connections per second across the fleet (default 50; 0 = no cap). */
  connectRatePerSecond?: number;
  /** Event batching tick, ms (default 100). */
  flushMs?: number;
  /** Joins a rejection the device could not explain with what the broker knows (its audit). */
  explain?: Explainer;
  /** State dir, for `revoke`. */
  stateDir?: string;
}

export type FleetListener = (events: readonly DeviceEvent[]) => void;

type RejectedEvent = Extract<DeviceEvent, { type: 'rejected' }>;

export class Fleet {
  private readonly workers: Worker[] = [];
  private readonly readiness: Array<Promise<void>> = [];
  private readonly workerOf = new Map<string, Worker>();
  private readonly listeners = new Set<FleetListener>();
  private readonly pending = new Map<
    number,
    { worker: Worker; resolve: (results: DeviceResult[]) => void }
  >();
  private readonly exited = new Set<Worker>();
  private readonly explained = new Map<string, Explanation>();
  /** Events of devices whose rejection waits for the broker's verdict, in order. */
  private readonly held = new Map<string, DeviceEvent[]>();
  private readonly explaining = new Set<Promise<void>>();
  private nextWorker = 0;
  private nextRequest = 1;
  private stopped = false;

  constructor(private readonly options: FleetOptions = {}) {
    const count = Math.max(1, options.workers ?? availableParallelism());
    const rate = options.connectRatePerSecond ?? 50;
    const settings: WorkerSettings = { connectRatePerSecond: rate / count, flushMs: options.flushMs ?? 100 };
    for (let index = 0; index < count; index++) {
      const worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: settings });
      this.readiness.push(
        new Promise((resolve, reject) => {
          worker.on('message', (message: FromWorker) => message.type === 'ready' && resolve());
          worker.once('error', reject);
        }),
      );
      worker.on('message', (message: FromWorker) => this.onWorkerMessage(message));
      worker.on('error', (error) => this.broadcast([fleetError(`worker ${index} failed: ${error.message}`)]));
      // A worker that died answers nothing more: settle what waits on it instead of hanging the caller.
      worker.once('exit', () => {
        this.exited.add(worker);
        for (const [requestId, request] of this.pending) {
          if (request.worker !== worker) continue;
          this.pending.delete(requestId);
          request.resolve([]);
        }
      });
      this.workers.push(worker);
    }
  }

  /** Resolves once every worker has loaded (devices added earlier wait in the worker's queue meanwhile). */
  async ready(): Promise<void> {
    await Promise.all(this.readiness);
  }

  /** Listens to batched events; returns the unsubscribe function. */
  subscribe(listener: FleetListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.workerOf.size;
  }

  add(specs: DeviceSpec[]): void {
    const perWorker = new Map<Worker, DeviceSpec[]>();
    for (const spec of specs) {
      if (this.workerOf.has(spec.id)) continue;
      const worker = this.workers[this.nextWorker++ % this.workers.length] as Worker;
      this.workerOf.set(spec.id, worker);
      perWorker.set(worker, [...(perWorker.get(worker) ?? []), spec]);
    }
    for (const [worker, list] of perWorker) this.post(worker, { type: 'add', specs: list });
  }

  remove(ids: string[]): void {
    this.byWorker(ids, (worker, list) => this.post(worker, { type: 'remove', ids: list }));
    for (const id of ids) this.workerOf.delete(id);
  }

  pause(ids: string[]): void {
    this.byWorker(ids, (worker, list) => this.post(worker, { type: 'pause', ids: list }));
  }

  resume(ids: string[]): void {
    this.byWorker(ids, (worker, list) => this.post(worker, { type: 'resume', ids: list }));
  }

  /** Makes a device run a command as if it came from its command topic (set-interval, ping, reboot). */
  sendCommand(id: string, name: string, payload?: unknown): void {
    const worker = this.workerOf.get(id);
    if (!worker) return;
    const text =
      payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload);
    this.post(worker, { type: 'command', id, name, ...(text !== undefined && { payload: text }) });
  }

  /** Revokes a device's certificate in the PKI (the broker reloads its CRL and cuts the device off). */
  async revoke(id: string): Promise<void> {
    if (!this.options.stateDir) throw new Error('the fleet needs its state dir to revoke');
    await revokeIdentity(this.options.stateDir, id);
  }

  /** Every device's current result (state, diagnosis, messages), joined with the broker's explanations. */
  async results(): Promise<DeviceResult[]> {
    const lists = await Promise.all(this.workers.map((worker) => this.request(worker, 'results')));
    return this.withExplanations(lists.flat());
  }

  /** Stops every device cleanly (status "offline", DISCONNECT), ends the workers, and returns the results. */
  async stop(): Promise<DeviceResult[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const lists = await Promise.all(this.workers.map((worker) => this.request(worker, 'stop')));
    await Promise.allSettled([...this.explaining]);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    return this.withExplanations(lists.flat());
  }

  private withExplanations(results: DeviceResult[]): DeviceResult[] {
    return results.map((result) => {
      const explanation = this.explained.get(result.id);
      return explanation && result.state === 'rejected'
        ? {
            ...result,
            reason: explanation.reason,
            step: explanation.step,
            detail: explanation.detail,
            ...(result.attempt && { attempt: refineAttempt(result.attempt, explanation) }),
          }
        : result;
    });
  }

  private request(worker: Worker, type: 'results' | 'stop'): Promise<DeviceResult[]> {
    const requestId = this.nextRequest++;
    if (this.exited.has(worker)) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.pending.set(requestId, { worker, resolve });
      this.post(worker, { type, requestId });
    });
  }

  private post(worker: Worker, message: ToWorker): void {
    worker.postMessage(message);
  }

  private byWorker(ids: string[], action: (worker: Worker, ids: string[]) => void): void {
    const groups = new Map<Worker, string[]>();
    for (const id of ids) {
      const worker = this.workerOf.get(id);
      if (worker) groups.set(worker, [...(groups.get(worker) ?? []), id]);
    }
    for (const [worker, list] of groups) action(worker, list);
  }

  private onWorkerMessage(message: FromWorker): void {
    switch (message.type) {
      case 'events':
        this.receive(message.events);
        break;
      case 'results':
      case 'stopped':
        this.pending.get(message.requestId)?.resolve(message.results);
        this.pending.delete(message.requestId);
        break;
      case 'ready':
        break;
      case 'fatal':
        this.broadcast([fleetError(message.message)]);
        break;
    }
  }

  /**
   * Passes a worker's events on — except a rejection the broker can explain better than the device (it saw
   * "not authorized", or a bare close): that device's events are held until the broker's verdict is in (or did not
   * come), then released once, rewritten with the final reason. So every listener sees one rejection per device,
   * never a provisional CLOSED_BY_BROKER first.
   */
  private receive(events: readonly DeviceEvent[]): void {
    const verdictDue = new Set(events.filter((event) => this.awaitsVerdict(event)).map((event) => event.id));
    const now: DeviceEvent[] = [];
    for (const event of events) {
      const id = event.type === 'added' ? event.device.id : event.id;
      if (verdictDue.has(id) && !this.held.has(id)) this.held.set(id, []);
      const held = this.held.get(id);
      if (held) held.push(event);
      else now.push(event);
      if (event.type === 'rejected' && verdictDue.has(id)) {
        const job = this.explainRejection(event).finally(() => this.explaining.delete(job));
        this.explaining.add(job);
      }
    }
    if (now.length > 0) this.broadcast(now);
  }

  /** Only the broker can explain what it decided; our own refusal of the broker (steps 1–3) is already exact. */
  private awaitsVerdict(event: DeviceEvent): event is RejectedEvent {
    return (
      event.type === 'rejected' &&
      this.options.explain !== undefined &&
      event.localPort !== undefined &&
      !['tcp-connect', 'server-certificate', 'server-verified'].includes(event.step)
    );
  }

  /** Asks the broker's side, then releases the device's held events with its verdict written in. */
  private async explainRejection(event: RejectedEvent): Promise<void> {
    const explanation = await this.options.explain?.(event).catch(() => undefined);
    if (explanation) this.explained.set(event.id, explanation);
    const held = this.held.get(event.id) ?? [];
    this.held.delete(event.id);
    this.broadcast(explanation ? held.map((entry) => withVerdict(entry, explanation)) : held);
  }

  private broadcast(events: DeviceEvent[]): void {
    for (const listener of this.listeners) listener(events);
  }
}

/** A held event of a rejected device, told what the broker decided. */
function withVerdict(event: DeviceEvent, explanation: Explanation): DeviceEvent {
  switch (event.type) {
    case 'ladder':
      return event.attempt.steps.some((step) => step.status === 'failed')
        ? { ...event, attempt: refineAttempt(event.attempt, explanation) }
        : event;
    case 'state':
      return event.state === 'rejected'
        ? { ...event, reason: explanation.reason, detail: explanation.detail }
        : event;
    case 'rejected':
      return { ...event, ...explanation, explainedBy: 'broker-audit' };
    default:
      return event;
  }
}

function fleetError(message: string): DeviceEvent {
  return { type: 'error', id: '*', message, at: Date.now() };
}
