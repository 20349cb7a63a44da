/**
 * Lifecycle checks: a revocation must end an open session within a given time, and a certificate must be refused
 * once it has expired. Each uses an identity of its own, issued fresh by the check (so it never revokes a device).
 */
import { type IdentityInfo, issueIdentities, revokeIdentity } from '../../pki/index.ts';
import type { Explainer } from '../explain.ts';
import type { DeviceSpec } from '../spec.ts';
import { rejection } from './behaviour.ts';
import { probeConnect } from './probe.ts';
import type { Observation } from './types.ts';

export interface LifecycleContext {
  stateDir: string;
  specOf(identity: IdentityInfo): DeviceSpec;
  explain?: Explainer;
  connectTimeoutMs: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function revocationCut(
  context: LifecycleContext,
  id: string,
  withinMs: number,
): Promise<Observation> {
  const [identity] = await issueIdentities(context.stateDir, [id], { force: true });
  const spec = context.specOf(identity!);
  const first = await probeConnect(spec, context.connectTimeoutMs);
  if (!first.ok) {
    const observed = await rejection(first, id, context.explain);
    return { ...observed, detail: `could not connect before the revocation: ${observed.detail}` };
  }
  const revokedAt = Date.now();
  await revokeIdentity(context.stateDir, id);
  // Waiting twice as long as required shows how late a slow broker is, without waiting for ever.
  const cut = await first.connection.waitForEnd(withinMs * 2);
  const after = (first.connection.endedAtMs ?? Date.now()) - revokedAt;
  await first.connection.close();
  if (cut && after <= withinMs) {
    return {
      outcome: 'cut',
      reason: 'REVOKED',
      detail: `the open session ended ${seconds(after)} after the revocation`,
    };
  }
  return {
    outcome: 'kept',
    detail: cut
      ? `the open session ended only ${seconds(after)} after the revocation`
      : `the open session was still up ${seconds(withinMs * 2)} after the revocation (does the broker reload its CRL?)`,
  };
}

export async function expiryRefused(
  context: LifecycleContext,
  id: string,
  validForMs: number,
): Promise<Observation> {
  const [identity] = await issueIdentities(context.stateDir, [id], { force: true, validityMs: validForMs });
  if (!identity) throw new Error(`bug: ${id} was not issued`);
  const spec = context.specOf(identity);
  const first = await probeConnect(spec, context.connectTimeoutMs);
  if (!first.ok) {
    const observed = await rejection(first, id, context.explain);
    return { ...observed, detail: `refused even before it expired: ${observed.detail}` };
  }
  // One second past notAfter: X.509 times have whole seconds.
  const expiresAt = Date.parse(identity.notAfter);
  const sessionCut = await first.connection.waitForEnd(Math.max(0, expiresAt - Date.now()) + 1_000);
  await first.connection.close();
  const open = sessionCut
    ? 'the open session ended when it expired'
    : 'the session opened before expiry stayed up';
  const again = await probeConnect(spec, context.connectTimeoutMs);
  if (again.ok) {
    await again.connection.close();
    return { outcome: 'admitted', detail: `connected again after the certificate expired (${open})` };
  }
  const observed = await rejection(again, id, context.explain);
  return { ...observed, outcome: 'refused', detail: `${observed.detail}; ${open}` };
}
