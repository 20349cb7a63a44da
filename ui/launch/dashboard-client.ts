/** Starts the dashboard's MQTT client worker and hands its messages to callbacks on the UI thread. */
import type { Worker } from 'node:worker_threads';
import type {
  DashboardClientConfig,
  DashboardClientMessage,
  DashboardClientRequest,
} from './dashboard-client-worker.ts';
import { startTsWorker } from './ts-worker.ts';

export interface DashboardClient {
  worker: Worker;
  /** Resolves once the broker acknowledged the message; rejects with why it could not be sent (5 s at most). */
  publish(topic: string, payload: string): Promise<void>;
  stop(): Promise<void>;
}

export function startDashboardClient(
  config: DashboardClientConfig,
  onMessage: (message: DashboardClientMessage) => void,
): DashboardClient {
  const worker = startTsWorker(new URL('./dashboard-client-worker.ts', import.meta.url), { config });
  let nextId = 0;
  const waiting = new Map<number, (error?: string) => void>();
  worker.on('message', (message: DashboardClientMessage) => {
    if (message.type === 'published') waiting.get(message.id)?.(message.error);
    else onMessage(message);
  });
  worker.on('error', (error) => onMessage({ type: 'status', connected: false, detail: error.message }));
  const send = (request: DashboardClientRequest) => worker.postMessage(request);
  return {
    worker,
    publish: (topic, payload) =>
      new Promise<void>((resolve, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => settle('the broker did not acknowledge it within 5 s'), 5000);
        const settle = (error?: string) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (error) reject(new Error(error));
          else resolve();
        };
        waiting.set(id, settle);
        send({ type: 'publish', id, topic, payload });
      }),
    async stop() {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      send({ type: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), 1500);
      await exited;
      clearTimeout(timer);
    },
  };
}
