/**
 * Runs the broker as a child process (`certfleet broker --port 0 --json-ready`): its TLS handshakes and RSA work then
 * never compete with the UI thread. Resolves once the broker prints its ready line.
 */
import type { ChildProcess } from 'node:child_process';
import { startBrokerChild } from '../../broker/broker-child.ts';
import { stopChild } from '../../core/stop-child.ts';

export interface BrokerProcess {
  child: ChildProcess;
  host: string;
  port: number;
  /** Anything else the ready line said (TLS versions, CA fingerprint…). */
  ready: Record<string, unknown>;
  /** The broker's last lines on stderr: what to show if it dies. */
  lastWords(): string[];
  /** Asks the broker to stop (SIGTERM), then kills it if it lingers; resolves when it has exited. */
  stop(): Promise<void>;
}

export interface StartBrokerOptions {
  stateDir: string;
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
  timeoutMs?: number;
  /** Called with every line the broker prints after it is ready (errors, warnings). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export async function startBroker(options: StartBrokerOptions): Promise<BrokerProcess> {
  const host = options.host ?? '127.0.0.1';
  const { child, ready, lastWords } = await startBrokerChild({
    stateDir: options.stateDir,
    brokerArgs: ['--host', host, '--port', String(options.port ?? 0)],
    failure: 'cannot start the broker',
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.onLine && { onLine: options.onLine }),
  });
  return {
    child,
    host: typeof ready.host === 'string' ? ready.host : host,
    port: ready.port,
    ready,
    lastWords,
    stop: () => stopChild(child),
  };
}
