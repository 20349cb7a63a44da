/**
 * The certfleet broker under test, in its own process (so the load generator never shares its CPU or event loop):
 *   node [--cpu-prof] --import tsx bench/servers/certfleet-broker.ts <stateDir> [--no-authorization]
 *     [--handshake-timeout <ms>] [--report-lag]
 * Prints one JSON line {"port":…} when listening; SIGTERM closes it and exits normally (so --cpu-prof writes).
 * `--report-lag` adds one JSON line a second on stderr: {"lagMaxMs","lagP99Ms","rssMiB"} (bench/overload.ts).
 */
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startBroker } from '../../broker/index.ts';

const [stateDir, ...flags] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: certfleet-broker.ts <stateDir> [--no-authorization]');
const handshakeFlag = flags.indexOf('--handshake-timeout');
const handshakeTimeoutMs = handshakeFlag >= 0 ? Number(flags[handshakeFlag + 1]) : undefined;
const broker = await startBroker({
  stateDir,
  port: 0,
  auditFile: join(stateDir, `bench-audit-${process.pid}.jsonl`),
  // The load generator is one address and few identities opening connections as fast as the broker takes them:
  // the flood defences (per-address/identity rates, pending-handshake caps) would measure themselves, not the broker.
  limits: {
    maxConnections: 100_000,
    maxHandshakes: 100_000,
    maxHandshakesPerAddress: 100_000,
    connectionRatePerAddress: 0,
    connectionRatePerIdentity: 0,
    // Every simulated device keeps a retained status: the default 10,000 topics stopped the scale suite's 15,000
    // (device 10,001 on was disconnected, LIMIT_EXCEEDED). `certfleet broker --max-retained` raises it the same way.
    maxRetainedMessages: 100_000,
    ...(handshakeTimeoutMs && { handshakeTimeoutMs }),
  },
  ...(flags.includes('--no-authorization') && { authorization: false }),
});
broker.on('warning', (error) => process.stderr.write(`warning: ${error.message}\n`));
process.stdout.write(`${JSON.stringify({ port: broker.port, pid: process.pid })}\n`);
if (flags.includes('--report-lag')) {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  setInterval(() => {
    const line = {
      lagMaxMs: Math.round(lag.max / 1e6),
      lagP99Ms: Math.round(lag.percentile(99) / 1e6),
      rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
    };
    lag.reset();
    process.stderr.write(`${JSON.stringify(line)}\n`);
  }, 1_000).unref();
}
process.once('SIGTERM', () => {
  void broker.close().then(() => process.exit(0));
});
