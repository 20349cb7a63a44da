/**
 * Enrollment over MQTT, the contract between a device and the broker's enrollment service (like AWS IoT's
 * `$aws/certificates/create-from-csr` or EST's /simpleenroll, over our own mTLS session):
 *
 *   device → broker   enroll/{cn}/request          {"ref":"r1","csr":"-----BEGIN CERTIFICATE REQUEST-----…"}
 *   broker → device   enroll/{cn}/response/{ref}   {"ok":true,"chain":"…","serial":"…","notAfter":"…"}
 *                                                  {"ok":false,"reason":"CN_NOT_ALLOWED","detail":"…"}
 *
 * {cn} is the CN of the certificate the session presented: the policy grants each identity its own topics, so only
 * the holder of a certificate can ask to renew it. `ref` names the answer, so several devices sharing one claim
 * certificate each read their own.
 */
import type { Reason } from './reasons.ts';

export const ENROLL_ROOT = 'enroll';
export const REF_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const enrollTopics = {
  request: (cn: string) => `${ENROLL_ROOT}/${cn}/request`,
  response: (cn: string, ref: string) => `${ENROLL_ROOT}/${cn}/response/${ref}`,
};

/** The CN of a request topic, or null. */
export function requestTopicCn(topic: string): string | null {
  const match = /^enroll\/([^/]+)\/request$/.exec(topic);
  return match ? match[1]! : null;
}

export interface EnrollRequest {
  ref: string;
  csr: string;
}

export type EnrollResponse =
  | { ok: true; chain: string; serial: string; notAfter: string }
  | { ok: false; reason: Reason; detail: string };
