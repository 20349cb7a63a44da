import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyType } from './types.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/**
 * Keys come from node:crypto, asynchronously: RSA generation takes up to a second and must never block a thread
 * that serves a UI or sockets. EC P-256 is the default for devices: it is what IoT secure elements use.
 */
export async function generateKeys(type: KeyType, rsaBits = 2048): Promise<KeyPair> {
  if (type === 'ec') return generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  return generateKeyPairAsync('rsa', { modulusLength: rsaBits, publicExponent: 0x10001 });
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec')
    return `ec-${(details?.namedCurve ?? 'unknown').replace('prime256v1', 'p256').toLowerCase()}`;
  if (key.asymmetricKeyType === 'rsa') return `rsa-${details?.modulusLength ?? 0}`;
  return key.asymmetricKeyType ?? 'unknown';
}

/** A leaf's key pair, encoded by node:crypto on the thread pool (exporting a KeyObject costs ~0.3 ms on this thread). */
export interface EncodedKeyPair {
  spkiDer: Buffer;
  privateKeyPem: string;
  /** 'ec-p256' or 'rsa-2048'. */
  description: string;
}

export async function generateEncodedKeys(type: KeyType): Promise<EncodedKeyPair> {
  const encoding = {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  } as const;
  const pair = (await (type === 'ec'
    ? generateKeyPairAsync('ec', { namedCurve: 'P-256', ...encoding })
    : generateKeyPairAsync('rsa', {
        modulusLength: 2048,
        publicExponent: 0x10001,
        ...encoding,
      }))) as unknown as {
    publicKey: Buffer;
    privateKey: string;
  };
  return {
    spkiDer: pair.publicKey,
    privateKeyPem: pair.privateKey,
    description: type === 'ec' ? 'ec-p256' : 'rsa-2048',
  };
}
