/**
 * The certfleet broker under test, in its own process (so the load generator never shares its CPU or event loop):
 *   node [--cpu-prof] --import tsx bench/servers/certfleet-broker.ts <stateDir> [--no-authorization]
 * Prints one JSON line {"port":…} when listening; SIGTERM closes it and exits normally (so --cpu-prof writes).
 */
import { join } from 'node:path';
import { startBroker } from '../../broker/index.ts';

const [stateDir, ...flags] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: certfleet-broker.ts <stateDir> [--no-authorization]');
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
  },
  ...(flags.includes('--no-authorization') && { authorization: false }),
});
broker.on('warning', (error) => process.stderr.write(`warning: ${error.message}\n`));
process.stdout.write(`${JSON.stringify({ port: broker.port, pid: process.pid })}\n`);
process.once('SIGTERM', () => {
  void broker.close().then(() => process.exit(0));
});
