/**
 * A throw-away `redis-server` for a local cluster (`--cluster N` without `--redis`): 127.0.0.1 on a free port, no
 * persistence (the cluster lives as long as the command; with no RDB and no AOF it writes no file, so nothing is
 * left behind even after a SIGKILL). It stops with us even when we are
 * SIGKILLed: it runs under a small `sh` whose stdin is our pipe — when that pipe closes, the shell stops Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { UserError } from '../../core/user-error.ts';

export interface LocalRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number | undefined;
  /** Stops Redis (SIGTERM, then SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Redis runs in the background; the subshell waits for our pipe to close, then stops it; `wait` ends with Redis.
 * (sh gives a background job /dev/null as stdin unless redirected explicitly: hence fd 3.)
 */
const LIFELINE =
  'exec 3<&0; redis-server "$@" </dev/null & pid=$!; (cat <&3 >/dev/null; kill $pid 2>/dev/null) & exec 3<&-; wait $pid';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function launch(
  port: number,
  dir: string,
  timeoutMs: number,
): Promise<{ child: ChildProcess; pid?: number }> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  // Its own session (detached): a terminal closing (SIGHUP) or Ctrl-C reaches the whole foreground process group,
  // and would kill the shell but not Redis, which ignores SIGHUP — an orphaned redis-server, seen when the
  // dashboard's tmux window was closed. Only the pipe decides: when we are gone, Redis goes.
  const child = spawn('sh', ['-c', LIFELINE, 'sh', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.stdin!.end();
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`it did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once('error', fail);
    child.once('exit', () => fail(new Error(output.trim().split('\n').slice(-3).join(' ') || 'it exited')));
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (!/Ready to accept connections/.test(output)) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout!.removeAllListeners('data').resume();
      child.stderr!.removeAllListeners('data').resume();
      const pid = /pid=(\d+)/.exec(output)?.[1];
      resolve({ child, ...(pid && { pid: Number(pid) }) });
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
  });
}

export async function startLocalRedis(timeoutMs = 15_000): Promise<LocalRedis> {
  const dir = tmpdir(); // its working directory: nothing is written there
  let started: { child: ChildProcess; pid?: number } | null = null;
  let port = 0;
  let lastError = '';
  // The free port may be taken between our probe and Redis' bind: try again on another.
  for (let attempt = 0; attempt < 5 && !started; attempt++) {
    port = await freePort();
    started = await launch(port, dir, timeoutMs).catch((error: NodeJS.ErrnoException) => {
      lastError = error.code === 'ENOENT' ? 'sh is not installed' : error.message;
      return null;
    });
    if (/not found|No such file/.test(lastError)) break;
  }
  if (!started) {
    throw new UserError(
      'cannot start a local cluster',
      `redis-server did not start: ${lastError}`,
      'Install it (Debian: apt-get install redis-server), or give a running one with --redis redis://HOST:PORT.',
    );
  }
  const { child, pid } = started;
  let stopping: Promise<void> | null = null;
  return {
    url: `redis://127.0.0.1:${port}`,
    pid,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.stdin!.end(); // the lifeline: the shell stops Redis and exits when it has
          const force = setTimeout(() => {
            try {
              if (pid) process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
            child.kill('SIGKILL');
          }, 3000);
          await exited;
          clearTimeout(force);
        }
      })();
      return stopping;
    },
  };
}
