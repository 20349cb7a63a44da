/**
 * Request/response over a worker's message port: `call('revoke', id)` on the UI side, a table of async handlers on
 * the worker side. Lets slow or CPU-heavy work (PKI signing, certificate parsing) leave the UI thread.
 */
import type { MessagePort, Worker } from 'node:worker_threads';

interface Request {
  rpc: number;
  method: string;
  args: unknown[];
}
type Response = { rpc: number; ok: true; value: unknown } | { rpc: number; ok: false; message: string };

export type Handlers = Record<string, (...args: never[]) => Promise<unknown>>;

export function serveRpc(port: MessagePort, handlers: Handlers): void {
  port.on('message', async (message: Request) => {
    if (typeof message?.rpc !== 'number') return;
    const handler = handlers[message.method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    try {
      if (!handler) throw new Error(`unknown method ${message.method}`);
      port.postMessage({
        rpc: message.rpc,
        ok: true,
        value: await handler(...message.args),
      } satisfies Response);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      port.postMessage({ rpc: message.rpc, ok: false, message: text } satisfies Response);
    }
  });
}

export interface RpcClient {
  call<T>(method: string, ...args: unknown[]): Promise<T>;
}

export function rpcClient(worker: Worker): RpcClient {
  let next = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  worker.on('message', (message: Response) => {
    if (typeof message?.rpc !== 'number') return;
    const waiter = pending.get(message.rpc);
    if (!waiter) return;
    pending.delete(message.rpc);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(message.message));
  });
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', () => failAll(new Error('worker stopped')));
  return {
    call<T>(method: string, ...args: unknown[]): Promise<T> {
      const rpc = ++next;
      return new Promise<T>((resolve, reject) => {
        pending.set(rpc, { resolve: resolve as (value: unknown) => void, reject });
        worker.postMessage({ rpc, method, args } satisfies Request);
      });
    },
  };
}
