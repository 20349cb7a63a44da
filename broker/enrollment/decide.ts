/**
 * What a certificate request may obtain, decided from the certificate that asked (the session's) and the request:
 * - an ordinary identity may renew only itself: the same CN, a fresh key, the same lifetime (rotation);
 * - a claim certificate may obtain a new identity whose CN its template allows, within its quota, never a CN that
 *   was issued already (so a claim cannot take over an existing device);
 * - nobody gets a weak key certified.
 */
import type { Reason } from '../../core/reasons.ts';
import { type ClaimConfig, type ParsedCsr, templateMatcher } from '../../pki/index.ts';

export type Decision =
  | { ok: true; cn: string; validityMs: number; via: 'rotation' | 'claim' }
  | { ok: false; reason: Reason; detail: string };

const STRONG_KEYS = new Set(['ec-p256', 'ec-secp384r1']);
const MIN_RSA_BITS = 2048;

export function keyWeakness(keyType: string): string | null {
  if (STRONG_KEYS.has(keyType)) return null;
  const rsa = /^rsa-(\d+)$/.exec(keyType);
  if (rsa && Number(rsa[1]) >= MIN_RSA_BITS) return null;
  return `${keyType} is too weak: EC P-256/P-384 or RSA ≥ ${MIN_RSA_BITS} only`;
}

/**
 * The lifetime a certificate was issued with, from its dates: leaves are backdated by a tenth of their lifetime,
 * at most 5 minutes (pki/issue.ts leafValidity), so notAfter − notBefore is 1.1 × lifetime up to 55 minutes.
 */
export function lifetimeOf(validFrom: string, validTo: string): number {
  const total = Date.parse(validTo) - Date.parse(validFrom);
  const lifetime = total <= 55 * 60_000 ? total / 1.1 : total - 5 * 60_000;
  return Math.max(2_000, Math.round(lifetime / 1000) * 1000);
}

export interface Requester {
  cn: string;
  cert: { validFrom: string; validTo: string };
  claim: ClaimConfig | null;
}

export interface Ledger {
  usedBy(claim: string): number;
  wasProvisioned(cn: string): boolean;
}

export function decideEnrollment(
  requester: Requester,
  csr: ParsedCsr,
  context: { ledger: Ledger; pending: (claim: string) => number; issued: (cn: string) => boolean },
): Decision {
  const weakness = keyWeakness(csr.keyType);
  if (weakness) return { ok: false, reason: 'WEAK_KEY', detail: weakness };
  const wanted = csr.commonName;
  if (wanted === null)
    return { ok: false, reason: 'CN_NOT_ALLOWED', detail: 'the request names no single CN' };
  const { claim } = requester;
  if (!claim) {
    if (wanted !== requester.cn) {
      return {
        ok: false,
        reason: 'CN_NOT_ALLOWED',
        detail: `"${requester.cn}" may renew only its own name, not "${wanted}"`,
      };
    }
    return {
      ok: true,
      cn: wanted,
      validityMs: lifetimeOf(requester.cert.validFrom, requester.cert.validTo),
      via: 'rotation',
    };
  }
  if (!templateMatcher(claim.template)(wanted)) {
    return {
      ok: false,
      reason: 'CN_NOT_ALLOWED',
      detail: `claim "${claim.name}" provisions names of the form "${claim.template}", not "${wanted}"`,
    };
  }
  if (context.issued(wanted) || context.ledger.wasProvisioned(wanted)) {
    return {
      ok: false,
      reason: 'CN_NOT_ALLOWED',
      detail: `"${wanted}" exists already: a claim never takes over a name`,
    };
  }
  const used = context.ledger.usedBy(claim.name) + context.pending(claim.name);
  if (used >= claim.quota) {
    return {
      ok: false,
      reason: 'CLAIM_QUOTA_EXCEEDED',
      detail: `claim "${claim.name}" has obtained ${context.ledger.usedBy(claim.name)} of its ${claim.quota} identities`,
    };
  }
  return { ok: true, cn: wanted, validityMs: claim.identityValidityMs, via: 'claim' };
}
