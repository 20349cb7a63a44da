/** A private redis-server for the `cluster` suite: free loopback port, no persistence to disk, its pid for CPU. */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './brokers.ts';

export interface BenchRedis {
  readonly url: string;
  readonly pid: number;
  /** Commands Redis has processed so far (INFO stats total_commands_processed). */
  commands(): Promise<number>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        child.removeAllListeners('exit');
        child.stdout!.removeAllListeners('data').resume();
        resolve();
      }
    });
  });
  const client = new Redis(port, '127.0.0.1');
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async commands() {
      const stats = await client.info('stats');
      return Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN);
    },
    async flush() {
      await client.flushall();
    },
    async stop() {
      client.disconnect();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
