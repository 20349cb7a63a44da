/**
 * Runs the broker as a child process (`certfleet broker --port 0 --json-ready`): its TLS handshakes and RSA work then
 * never compete with the UI thread. Resolves once the broker prints its ready line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { UserError } from '../../core/user-error.ts';
import { stopChild } from '../../core/stop-child.ts';

const CLI = fileURLToPath(new URL('../../bin/certfleet.js', import.meta.url));

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

export function startBroker(options: StartBrokerOptions): Promise<BrokerProcess> {
  const host = options.host ?? '127.0.0.1';
  const args = [
    CLI,
    'broker',
    '--host',
    host,
    '--port',
    String(options.port ?? 0),
    '--state-dir',
    options.stateDir,
    '--json-ready',
    '--stop-with-parent',
  ];
  // stdin stays open as a lifeline: when this process dies, even by SIGKILL, the broker sees EOF and stops.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderrTail: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopChild(child);
      const said = stderrTail.join('\n').trim();
      reject(new UserError('cannot start the broker', why, said ? `The broker said:\n${said}` : undefined));
    };
    // Generous: on a loaded machine loading the broker's modules alone has taken over 20 s.
    const timer = setTimeout(() => fail('it did not report ready in time'), options.timeoutMs ?? 60_000);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`it exited (${signal ?? `code ${code}`}) before it was ready`));
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      if (settled) options.onLine?.(line, 'stderr');
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (settled) return options.onLine?.(line, 'stdout');
      const ready = parseReady(line);
      if (!ready) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        child,
        host: typeof ready.host === 'string' ? ready.host : host,
        port: ready.port as number,
        ready,
        lastWords: () => [...stderrTail],
        stop: () => stopChild(child),
      });
    });
  });
}

function parseReady(line: string): Record<string, unknown> | null {
  if (!line.trimStart().startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return value.event === 'listening' && typeof value.port === 'number' ? value : null;
  } catch {
    return null;
  }
}
