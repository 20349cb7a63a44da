import { createECDH, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { derToPem } from './der-bytes.ts';
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

// DER around a P-256 key pair, as OpenSSL itself encodes it (RFC 5915 inside PKCS#8; RFC 5480 SubjectPublicKeyInfo):
// only the private scalar and the public point differ from key to key.
const P256_PKCS8_HEAD = Buffer.from(
  '308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420',
  'hex',
);
const P256_PKCS8_MID = Buffer.from('a144034200', 'hex');
const P256_SPKI_HEAD = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * A P-256 key pair from node:crypto, encoded without OpenSSL 3's encoder machinery: generating takes ~40 µs, while
 * exporting it through KeyObject.export or generateKeyPair's encodings costs ~150 µs more (an encoder lookup per
 * call) — that was most of a bulk issue's CPU. The bytes are identical to what OpenSSL writes
 * (test/unit/pki-keys.test.ts). Synchronous: cheaper than a trip through libuv's thread pool.
 */
export function generateP256Sync(): EncodedKeyPair {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys(); // uncompressed: 04 || x || y, 65 bytes
  const scalar = ecdh.getPrivateKey();
  const d = scalar.length === 32 ? scalar : Buffer.concat([Buffer.alloc(32 - scalar.length), scalar]);
  const pkcs8 = Buffer.concat([P256_PKCS8_HEAD, d, P256_PKCS8_MID, point]);
  return {
    spkiDer: Buffer.concat([P256_SPKI_HEAD, point]),
    privateKeyPem: derToPem(pkcs8, 'PRIVATE KEY'),
    description: 'ec-p256',
  };
}

const ENCODING = {
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

/** An RSA-2048 key pair on this thread: for worker threads only (it takes ~100 ms). */
export function generateRsaSync(): EncodedKeyPair {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { spkiDer: pair.publicKey, privateKeyPem: pair.privateKey, description: 'rsa-2048' };
}

export async function generateEncodedKeys(type: KeyType): Promise<EncodedKeyPair> {
  if (type === 'ec') return generateP256Sync();
  const pair = (await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
    ...ENCODING,
  })) as unknown as { publicKey: Buffer; privateKey: string };
  return { spkiDer: pair.publicKey, privateKeyPem: pair.privateKey, description: 'rsa-2048' };
}
