/**
 * Every rogue kind, started by name in a real fleet (worker threads) against our real broker: each ends `rejected`
 * with the right reason at the right ladder step, after one attempt, while the valid devices stay online.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceResult } from '../../devices/device.ts';
import { auditFeedExplainer } from '../../devices/explain.ts';
import { Fleet } from '../../devices/fleet.ts';
import { planFleet } from '../../devices/plan.ts';
import { startImpostorBroker } from '../../devices/impostor-broker.ts';
import { ROGUE_KINDS } from '../../core/rogues.ts';
import { EventLog, ourBroker, pkiStateDir } from '../helpers/devices-fixture.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

/** Reason and step per rogue kind; where two reasons are listed, OpenSSL may report either (see note). */
const EXPECTED: Record<string, { reasons: string[]; step: string }> = {
  'no-cert': { reasons: ['NO_CERTIFICATE'], step: 'client-certificate' },
  // A self-signed leaf fails CRL lookup or issuer lookup first, depending on the broker's verify order.
  'self-signed': { reasons: ['SELF_SIGNED', 'UNKNOWN_CA'], step: 'client-verified' },
  'foreign-ca': { reasons: ['UNKNOWN_CA'], step: 'client-verified' },
  'impostor-ca': { reasons: ['UNKNOWN_CA'], step: 'client-verified' },
  expired: { reasons: ['EXPIRED'], step: 'client-verified' },
  'not-yet-valid': { reasons: ['NOT_YET_VALID'], step: 'client-verified' },
  revoked: { reasons: ['REVOKED'], step: 'client-verified' },
  'wrong-usage': { reasons: ['WRONG_KEY_USAGE'], step: 'client-verified' },
  // OpenSSL 3 reports a SHA-1 signed leaf as CA_MD_TOO_WEAK or, through Node, an unspecified verify error.
  sha1: { reasons: ['WEAK_SIGNATURE', 'UNKNOWN_CA'], step: 'client-verified' },
  'wrong-key': { reasons: ['KEY_MISMATCH'], step: 'client-certificate' },
  'unknown-cn': { reasons: ['UNKNOWN_IDENTITY'], step: 'access-granted' },
  'clientid-spoof': { reasons: ['CLIENT_ID_MISMATCH'], step: 'access-granted' },
  'topic-overreach': { reasons: ['PUBLISH_DENIED'], step: 'messages-flow' },
  'wildcard-snoop': { reasons: ['SUBSCRIBE_DENIED'], step: 'messages-flow' },
  'impostor-broker': { reasons: ['SERVER_UNTRUSTED'], step: 'server-verified' },
};

async function runAllRogues(strict: boolean): Promise<{ results: DeviceResult[]; log: EventLog }> {
  const stateDir = await pkiStateDir(cleanup);
  const broker = await ourBroker(stateDir, cleanup, strict);
  const impostor = await startImpostorBroker(stateDir);
  cleanup(() => impostor.close());
  const explain = auditFeedExplainer((listener) => {
    broker.on('audit', listener);
    return () => broker.off('audit', listener as never);
  });
  cleanup(() => explain.close());
  const fleet = new Fleet({ workers: 2, connectRatePerSecond: 100, explain, stateDir });
  cleanup(() => fleet.stop());
  const log = new EventLog();
  fleet.subscribe(log.pushAll);
  const specs = await planFleet({
    stateDir,
    broker: { host: '127.0.0.1', port: broker.port },
    impostorBroker: impostor.address,
    count: 2,
    intervalMs: 500,
    rogues: [...ROGUE_KINDS],
  });
  fleet.add(specs);
  const rogueIds = specs.filter((spec) => spec.rogue).map((spec) => spec.id);
  // Wait for every rogue's verdict (the broker's explanation when it has one) and the valid devices online.
  await Promise.all([
    ...rogueIds.map((id) => log.waitFor((event) => event.type === 'rejected' && event.id === id, 45_000)),
    log.state('sensor-001', 'online', 45_000),
    log.state('sensor-002', 'online', 45_000),
  ]);
  const results = await fleet.stop();
  expect(impostor.connections()).toBeGreaterThanOrEqual(1);
  return { results, log };
}

/**
 * A definitive rejection is never retried. Two observations are ambiguous and need a second attempt to be sure: a
 * close right after a publish (topic-overreach), and, in strict mode, a bare close right after the handshake.
 */
function expectedAttempts(kind: string, strict: boolean): number {
  if (kind === 'topic-overreach') return 2;
  const closedAfterHandshake = ['client-certificate', 'client-verified'].includes(EXPECTED[kind]?.step ?? '');
  return strict && closedAfterHandshake && kind !== 'wrong-key' ? 2 : 1;
}

function checkVerdicts(results: DeviceResult[], strict: boolean): void {
  for (const kind of ROGUE_KINDS) {
    const result = results.find((entry) => entry.kind === kind);
    const expected = EXPECTED[kind];
    expect({ kind, state: result?.state, step: result?.step }).toEqual({
      kind,
      state: 'rejected',
      step: expected?.step,
    });
    expect(expected?.reasons).toContain(result?.reason);
    expect({ kind, attempts: result?.attempts }).toEqual({ kind, attempts: expectedAttempts(kind, strict) });
  }
  for (const id of ['sensor-001', 'sensor-002']) {
    const result = results.find((entry) => entry.id === id);
    expect(result).toMatchObject({ state: 'stopped' });
    expect(result?.messages.acked).toBeGreaterThan(0);
  }
}

describe('rogues against our broker', () => {
  it('each rogue kind is rejected with its reason and step (CONNACK 5 mode, joined with the audit)', async () => {
    const { results, log } = await runAllRogues(false);
    checkVerdicts(results, false);
    // The device alone says honestly what it saw: "not authorized", at step 6, with the local port to join.
    const own = log.events.find(
      (event) => event.type === 'rejected' && event.id === 'rogue-expired' && !event.explainedBy,
    );
    expect(own).toMatchObject({ reason: 'CLOSED_BY_BROKER', step: 'access-granted' });
    expect(own?.type === 'rejected' && own.localPort).toBeGreaterThan(0);
  }, 120_000);

  it('each rogue kind is rejected with its reason and step (strict mode: closed after the handshake)', async () => {
    const { results, log } = await runAllRogues(true);
    checkVerdicts(results, true);
    const own = log.events.find(
      (event) => event.type === 'rejected' && event.id === 'rogue-expired' && !event.explainedBy,
    );
    expect(own).toMatchObject({ reason: 'CLOSED_BY_BROKER', step: 'client-verified' });
  }, 120_000);
});
