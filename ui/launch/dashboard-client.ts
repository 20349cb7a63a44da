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
  publish(topic: string, payload: string): void;
  stop(): Promise<void>;
}

export function startDashboardClient(
  config: DashboardClientConfig,
  onMessage: (message: DashboardClientMessage) => void,
): DashboardClient {
  const worker = startTsWorker(new URL('./dashboard-client-worker.ts', import.meta.url), { config });
  worker.on('message', onMessage);
  worker.on('error', (error) => onMessage({ type: 'status', connected: false, detail: error.message }));
  const send = (request: DashboardClientRequest) => worker.postMessage(request);
  return {
    worker,
    publish: (topic, payload) => send({ type: 'publish', topic, payload }),
    async stop() {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      send({ type: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), 1500);
      await exited;
      clearTimeout(timer);
    },
  };
}
