/**
 * A broker as a child process, started the way a person starts it (`certfleet --state-dir … broker … --json-ready
 * --stop-with-parent`), resolved once it prints its ready line. Used by the dashboard (its own broker) and by a local
 * cluster (one per node). stdin stays open as a lifeline: when this process dies, even by SIGKILL, the broker sees EOF
 * and stops.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../core/stop-child.ts';
import { UserError } from '../core/user-error.ts';

const CLI = fileURLToPath(new URL('../bin/certfleet.js', import.meta.url));

export interface BrokerChild {
  child: ChildProcess;
  /** The ready line (`event: listening`, port, host, url, audit file, TLS versions, CA fingerprint…). */
  ready: Record<string, unknown> & { port: number };
  /** The broker's last lines on stderr: what to show if it dies. */
  lastWords(): string[];
}

export interface BrokerChildOptions {
  stateDir: string;
  /** What follows `broker` on the command line (host, port, --redis, --node-id…). */
  brokerArgs: string[];
  /** The error's headline if it never gets ready, e.g. "cannot start the broker". */
  failure: string;
  timeoutMs?: number;
  /** Called with every line the broker prints after it is ready. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called as soon as the process exists, before it is ready (so a caller can stop it whatever happens). */
  spawned?: (child: ChildProcess) => void;
}

export function startBrokerChild(options: BrokerChildOptions): Promise<BrokerChild> {
  const args = [
    CLI,
    '--state-dir',
    options.stateDir,
    'broker',
    ...options.brokerArgs,
    '--json-ready',
    '--stop-with-parent',
  ];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  options.spawned?.(child);
  const stderrTail: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopChild(child);
      const said = stderrTail.join('\n').trim();
      reject(new UserError(options.failure, why, said ? `It said:\n${said}` : undefined));
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
      resolve({ child, ready, lastWords: () => [...stderrTail] });
    });
  });
}

function parseReady(line: string): (Record<string, unknown> & { port: number }) | null {
  if (!line.trimStart().startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return value.event === 'listening' && typeof value.port === 'number'
      ? (value as BrokerChild['ready'])
      : null;
  } catch {
    return null;
  }
}
