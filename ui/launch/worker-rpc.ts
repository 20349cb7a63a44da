/**
 * Request/response over a message channel: `call('revoke', id)` on one side, a table of async handlers on the other.
 * The channel is a worker's port (PKI signing off the UI thread) or a child process's IPC channel (the fleet host):
 * anything that can post a structured-clonable message and listen for them.
 */
import type { ChildProcess } from 'node:child_process';
import type { MessagePort, Worker } from 'node:worker_threads';

interface Request {
  rpc: number;
  method: string;
  args: unknown[];
}
type Response = { rpc: number; ok: true; value: unknown } | { rpc: number; ok: false; message: string };

export type Handlers = Record<string, (...args: never[]) => Promise<unknown>>;

/** One end of a message channel. */
export interface Channel {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  postMessage(message: unknown): void;
}

/** The calling end also learns when the other side fails or goes away. */
export interface ClientChannel {
  on(event: 'message' | 'error' | 'exit', listener: (value: never) => void): unknown;
  postMessage(message: unknown): void;
}

/** A child process's IPC channel (fork with serialization: 'advanced' keeps structured clone). */
export function childChannel(child: ChildProcess): ClientChannel {
  return {
    on: (event, listener) => child.on(event, listener as (...args: unknown[]) => void),
    postMessage: (message) => {
      if (child.connected) child.send(message as never);
    },
  };
}

/** This process's IPC channel to its parent as a Channel. */
export function parentChannel(): Channel {
  return {
    on: (event, listener) => process.on(event, listener),
    postMessage: (message) => {
      if (process.connected) process.send?.(message);
    },
  };
}

export function serveRpc(port: Channel | MessagePort, handlers: Handlers): void {
  port.on('message', async (message: unknown) => {
    const request = message as Request;
    if (typeof request?.rpc !== 'number') return;
    const handler = handlers[request.method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    try {
      if (!handler) throw new Error(`unknown method ${request.method}`);
      port.postMessage({
        rpc: request.rpc,
        ok: true,
        value: await handler(...request.args),
      } satisfies Response);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      port.postMessage({ rpc: request.rpc, ok: false, message: text } satisfies Response);
    }
  });
}

export interface RpcClient {
  call<T>(method: string, ...args: unknown[]): Promise<T>;
}

/** A client over a worker or a child process: its calls fail (never hang) once the other side is gone. */
export function rpcClient(target: Worker | ClientChannel): RpcClient {
  let next = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const on = (target as ClientChannel).on.bind(target) as ClientChannel['on'];
  on('message', (message: Response) => {
    if (typeof message?.rpc !== 'number') return;
    const waiter = pending.get(message.rpc);
    if (!waiter) return;
    pending.delete(message.rpc);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(message.message));
  });
  let gone: Error | undefined;
  const failAll = (error: Error) => {
    gone ??= error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  on('error', failAll);
  on('exit', () => failAll(new Error('worker stopped')));
  return {
    call<T>(method: string, ...args: unknown[]): Promise<T> {
      if (gone) return Promise.reject(gone);
      const rpc = ++next;
      return new Promise<T>((resolve, reject) => {
        pending.set(rpc, { resolve: resolve as (value: unknown) => void, reject });
        target.postMessage({ rpc, method, args } satisfies Request);
      });
    },
  };
}
