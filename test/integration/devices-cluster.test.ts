/**
 * `certfleet devices run --cluster N` as a user runs it: a real process that starts a redis-server and N broker node
 * processes of its own, spreads the devices over the nodes, says which node each one is on — and leaves nothing
 * running, not even when it is SIGKILLed. A node SIGKILLed mid-run: its devices fail over to the other node.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../broker/audit-log.ts';
import type { AuditRecord } from '../../broker/audit-record.ts';
import { CERTFLEET, makeStateDir } from '../helpers/pki-fixture.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

/** Pids of processes whose command line contains `text` (our state dir, a Redis port). */
function pidsMatching(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', '--', text], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function startRun(dir: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CERTFLEET, '--state-dir', dir, 'devices', 'run', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of pidsMatching(dir)) process.kill(pid, 'SIGKILL'); // whatever it left behind, if the test failed
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

const accepted = async (file: string) =>
  (await readAuditLog(file).catch(() => [] as AuditRecord[])).filter(
    (r) => r.event === 'connection-accepted' && r.cn?.startsWith('sensor-'),
  );

describe('certfleet devices run --cluster', () => {
  it('spreads the devices over two nodes, names each one’s node; a node SIGKILLed mid-run: its devices fail over', async () => {
    const { dir, cleanup } = await makeStateDir('certfleet-devices-cluster-');
    cleanups.push(cleanup);
    const run = startRun(dir, [
      '--cluster',
      '2',
      '--count',
      '4',
      '--duration',
      '20s',
      '--interval',
      '1s',
      '--json',
    ]);
    const auditOf = (node: string) => join(dir, `audit-${node}.jsonl`);

    // Spread: both nodes accept sensors (sensor-001 and -003 start on local-1, -002 and -004 on local-2).
    const onFirst = await until(
      async () => {
        const records = await accepted(auditOf('local-1'));
        return records.length >= 2 ? records : undefined;
      },
      'two sensors on local-1',
      150_000,
    ); // a loaded machine: PKI, two node processes and the workers start first (95 s seen at load 20)
    expect(onFirst.map((r) => r.cn).sort()).toEqual(['sensor-001', 'sensor-003']);
    expect(onFirst.every((r) => r.node === 'local-1')).toBe(true);
    await until(async () => (await accepted(auditOf('local-2'))).length >= 2 || undefined, 'two on local-2');

    const [nodeOne] = pidsMatching(`--node-id local-1`).filter((pid) => pidsMatching(dir).includes(pid));
    expect(nodeOne).toBeGreaterThan(0);
    process.kill(nodeOne!, 'SIGKILL');
    const failedOver = await until(async () => {
      const records = await accepted(auditOf('local-2'));
      const cns = new Set(records.map((r) => r.cn));
      return cns.has('sensor-001') && cns.has('sensor-003') ? records : undefined;
    }, 'sensor-001 and -003 accepted on local-2');
    expect(failedOver.find((r) => r.cn === 'sensor-001')!.node).toBe('local-2');

    expect(await exited(run.child)).toBe(0);
    const summary = JSON.parse(run.output().slice(run.output().indexOf('{')));
    expect(summary.broker).toMatch(
      /^a local cluster of 2 node\(s\) \(local-1 mqtts:\/\/127\.0\.0\.1:\d+, local-2 /,
    );
    expect(summary.broker).toMatch(/started for this run$/);
    expect(summary.online).toBe(4);
    expect(summary.onlineByNode).toEqual({ 'local-2': 4 });
    for (const result of summary.results) expect(result.node).toBe('local-2');
    // Nothing of it is left running: the other node, Redis.
    const redisPort = /redis:\/\/127\.0\.0\.1:(\d+)/.exec(summary.broker)![1]!;
    expect(pidsMatching(dir)).toEqual([]);
    expect(pidsMatching(`redis-server 127.0.0.1:${redisPort}`)).toEqual([]);
  }, 240_000);

  it('SIGKILLed itself, it leaves no broker node and no redis-server behind', async () => {
    const { dir, cleanup } = await makeStateDir('certfleet-devices-cluster-');
    cleanups.push(cleanup);
    const run = startRun(dir, ['--cluster', '2', '--count', '1', '--duration', '60s']);
    const redisPort = await until(
      () => /on redis:\/\/127\.0\.0\.1:(\d+)/.exec(run.output())?.[1],
      'the run to start',
      60_000,
    );
    const redis = `redis-server 127.0.0.1:${redisPort}`;
    expect(pidsMatching(redis)).toHaveLength(1);
    expect(pidsMatching(`--node-id local-`).filter((pid) => pidsMatching(dir).includes(pid))).toHaveLength(2);
    run.child.kill('SIGKILL');
    await exited(run.child);
    await until(() => (pidsMatching(dir).length === 0 ? true : undefined), 'the nodes to stop', 10_000);
    await until(() => (pidsMatching(redis).length === 0 ? true : undefined), 'redis-server to stop', 10_000);
  }, 90_000);

  it('--cluster with --broker, or --redis without --cluster: ERROR, exit 1, nothing started', async () => {
    const { dir, cleanup } = await makeStateDir('certfleet-devices-cluster-');
    cleanups.push(cleanup);
    // The three at once: each is a CLI start (seconds on a loaded machine), none starts anything.
    const both = startRun(dir, ['--cluster', '2', '--broker', 'mqtts://127.0.0.1:8883']);
    const alone = startRun(dir, ['--redis', 'redis://127.0.0.1:1']);
    const zero = startRun(dir, ['--cluster', '0']);
    const codes = await Promise.all([both, alone, zero].map((run) => exited(run.child)));
    expect(codes).toEqual([1, 1, expect.any(Number)]);
    expect(codes[2]).not.toBe(0);
    expect(both.output()).toMatch(/^ERROR: cannot use --cluster with --broker: /m);
    expect(alone.output()).toMatch(/^ERROR: cannot use --redis without --cluster: /m);
    expect(zero.output()).toMatch(/--cluster/);
    for (const run of [both, alone, zero]) expect(run.output()).not.toMatch(/ at .*\.ts:\d+/); // no stack trace
    expect((await readdir(dir)).filter((name) => name.startsWith('audit'))).toEqual([]); // no broker ran
  }, 60_000);
});
