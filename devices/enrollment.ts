/**
 * The device side of enrollment over MQTT (core/enrollment-protocol.ts): generate a new key in this process, send a
 * CSR on our own enrollment topic, wait for the broker's answer, and check that the certificate it returns is for
 * our key. The private key never leaves the device: only the CSR (public key + proof of possession) is sent.
 */
import { generateKeyPair, type KeyObject, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { type EnrollResponse, enrollTopics } from '../core/enrollment-protocol.ts';
import { isReason, type Reason } from '../core/reasons.ts';
import { buildCsr } from '../pki/index.ts';
import type { MqttSession } from './session.ts';

const generateKeyPairAsync = promisify(generateKeyPair);
const ANSWER_TIMEOUT_MS = 10_000;

export interface EnrolledIdentity {
  chainPem: string;
  keyPem: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  /** Key generation, CSR and the round trip, ms. */
  requestMs: number;
}

export class EnrollmentError extends Error {
  constructor(
    readonly reason: Reason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

export interface EnrollmentRequest {
  /** The CN of the certificate this session presented: it names our enrollment topics. */
  topicCn: string;
  requestedCn: string;
  ref: string;
  keyType?: 'ec-p256' | 'rsa-1024';
  /** Called with the response topic's payloads: the device routes them here from its message handler. */
  awaitAnswer(topic: string, timeoutMs: number): Promise<Buffer | null>;
}

async function newKey(keyType: EnrollmentRequest['keyType']): Promise<KeyObject> {
  const pair =
    keyType === 'rsa-1024'
      ? await generateKeyPairAsync('rsa', { modulusLength: 1024 })
      : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  return pair.privateKey;
}

export async function enroll(session: MqttSession, request: EnrollmentRequest): Promise<EnrolledIdentity> {
  const started = Date.now();
  const privateKey = await newKey(request.keyType);
  const csr = await buildCsr(request.requestedCn, privateKey);
  const responseTopic = enrollTopics.response(request.topicCn, request.ref);
  const answer = request.awaitAnswer(responseTopic, ANSWER_TIMEOUT_MS);
  const refused = await session.subscribe([responseTopic]);
  if (refused === null || refused.length > 0) {
    throw new EnrollmentError(
      'ENROLLMENT_UNAVAILABLE',
      `the broker refused the subscription to "${responseTopic}"`,
    );
  }
  const sent = await session.publish(
    enrollTopics.request(request.topicCn),
    JSON.stringify({ ref: request.ref, csr }),
  );
  if (!sent) {
    throw new EnrollmentError('ENROLLMENT_UNAVAILABLE', 'the certificate request was not acknowledged');
  }
  const payload = await answer;
  if (payload === null) {
    throw new EnrollmentError(
      'ENROLLMENT_UNAVAILABLE',
      `no answer on "${responseTopic}" within ${ANSWER_TIMEOUT_MS} ms`,
    );
  }
  let response: EnrollResponse;
  try {
    response = JSON.parse(payload.toString('utf8')) as EnrollResponse;
  } catch {
    throw new EnrollmentError('PROTOCOL_ERROR', 'the enrollment answer is not JSON');
  }
  if (!response.ok) {
    const reason = isReason(response.reason) ? response.reason : 'PROTOCOL_ERROR';
    throw new EnrollmentError(reason, response.detail);
  }
  const leaf = new X509Certificate(response.chain);
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new EnrollmentError('KEY_MISMATCH', 'the broker returned a certificate for another key');
  }
  return {
    chainPem: response.chain,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    serial: response.serial,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    requestMs: Date.now() - started,
  };
}
