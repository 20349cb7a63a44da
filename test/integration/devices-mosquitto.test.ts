/**
 * The fleet against Debian's Mosquitto configured with our PKI (require_certificate, CRL, identity as username):
 * valid devices publish and get their acks, and every credential rogue meets the same accept/reject outcome as with
 * our broker. The one documented difference: Mosquitto has no CN policy at CONNECT, so `unknown-cn` gets in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceResult } from '../../devices/device.ts';
import { Fleet } from '../../devices/fleet.ts';
import { planFleet } from '../../devices/plan.ts';
import type { BrokerAddress } from '../../devices/spec.ts';
import { generateRogueKit } from '../../pki/index.ts';
import { CREDENTIAL_ROGUE_KINDS } from '../../core/rogues.ts';
import { EventLog, ourBroker, pkiStateDir } from '../helpers/devices-fixture.ts';
import { startMosquitto } from '../helpers/devices-mosquitto.ts';

const cleanups: Array<() => unknown> = [];
const cleanup = (action: () => unknown) => cleanups.push(action);
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

async function run(stateDir: string, broker: BrokerAddress): Promise<Map<string, DeviceResult>> {
  const fleet = new Fleet({ workers: 2, connectRatePerSecond: 100 });
  cleanup(() => fleet.stop());
  const log = new EventLog();
  fleet.subscribe(log.pushAll);
  const specs = await planFleet({
    stateDir,
    broker,
    count: 3,
    intervalMs: 300,
    rogues: [...CREDENTIAL_ROGUE_KINDS],
  });
  fleet.add(specs);
  // Every device reaches a verdict: rejected, or online with a first acknowledged publish.
  await Promise.all(
    specs.map((spec) =>
      log.waitFor(
        (event) =>
          (event.type === 'rejected' && event.id === spec.id) ||
          (event.type === 'telemetry' && event.id === spec.id && (event.messages?.acked ?? 0) > 0),
        45_000,
      ),
    ),
  );
  const results = await fleet.stop();
  return new Map(results.map((result) => [result.kind === 'climate' ? result.id : result.kind, result]));
}

const outcome = (result: DeviceResult | undefined) =>
  result?.state === 'rejected' ? 'rejected' : 'accepted';

describe('the fleet against Mosquitto', () => {
  it('gives the same accept/reject outcome for the credential rogues as our broker', async () => {
    const stateDir = await pkiStateDir(cleanup);
    // Mosquitto reads its CRL once at start: the kit (which revokes `rogue-revoked`) must exist before.
    await generateRogueKit(stateDir);
    const workDir = await mkdtemp(join(tmpdir(), 'certfleet-mosquitto-'));
    cleanup(() => rm(workDir, { recursive: true, force: true }));
    const mosquitto = await startMosquitto(stateDir, workDir);
    cleanup(() => mosquitto.stop());
    const ours = await ourBroker(stateDir, cleanup);

    const withMosquitto = await run(stateDir, { host: '127.0.0.1', port: mosquitto.port });
    const withOurs = await run(stateDir, { host: '127.0.0.1', port: ours.port });

    for (const id of ['sensor-001', 'sensor-002', 'sensor-003']) {
      expect(withMosquitto.get(id)).toMatchObject({ state: 'stopped', attempts: 1 });
      expect(withMosquitto.get(id)?.messages.acked).toBeGreaterThan(0);
    }
    const differences = CREDENTIAL_ROGUE_KINDS.filter(
      (kind) => outcome(withMosquitto.get(kind)) !== outcome(withOurs.get(kind)),
    );
    expect(differences).toEqual(['unknown-cn']);
    for (const kind of CREDENTIAL_ROGUE_KINDS.filter((kind) => kind !== 'unknown-cn')) {
      expect({ kind, state: withMosquitto.get(kind)?.state }).toEqual({ kind, state: 'rejected' });
    }
    // Mosquitto refuses in the handshake with a TLS alert, so the device names the reason without any audit.
    expect(withMosquitto.get('expired')).toMatchObject({ reason: 'EXPIRED', step: 'client-verified' });
    expect(withMosquitto.get('revoked')).toMatchObject({ reason: 'REVOKED', step: 'client-verified' });
    expect(withMosquitto.get('no-cert')).toMatchObject({
      reason: 'NO_CERTIFICATE',
      step: 'client-certificate',
    });
    expect(withMosquitto.get('foreign-ca')).toMatchObject({ reason: 'UNKNOWN_CA', step: 'client-verified' });
  }, 120_000);
});
