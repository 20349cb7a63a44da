/**
 * TLS contexts for devices. A context per device costs ~35 KiB of native memory (an OpenSSL SSL_CTX plus its CA
 * store), a third of what an online device may cost. So well-behaved devices of one worker share one context per
 * (trusted CA, issuing CA, key type), and each device puts its own leaf and key into it right before connecting:
 * OpenSSL copies the context's certificate and key into the connection (SSL_new → ssl_cert_dup) synchronously inside
 * `tls.connect`, so later swaps never touch an open connection. The issuing CA stays in the context's chain (set
 * once, with the first device's full chain; the context is keyed by the issuing CA, so it is the right one). Every connection is checked to present its own leaf (fingerprint), and
 * rogues, devices without a certificate, and Node versions without the native setters get a context of their own.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls, { type SecureContext } from 'node:tls';
import type { DeviceSpec } from './spec.ts';

interface NativeContext {
  setCert(pem: string): void;
  setKey(pem: string, passphrase?: string): void;
}

export interface DeviceTls {
  /** The context to hand to `tls.connect`, right now (call it immediately before connecting). */
  context(): SecureContext;
  /** SHA-256 fingerprint of the leaf we must present, or undefined without a certificate. */
  leafFingerprint?: string;
  /** The leaf's notBefore/notAfter (epoch ms) and serial: when it expires, and when to renew it. */
  leaf?: { notBefore: number; notAfter: number; serial: string };
}

const shared = new Map<string, SecureContext>();
const caFiles = new Map<string, Promise<string>>();

const PEM_END = '-----END CERTIFICATE-----';

/** A thousand devices trust the same CA file: read it once per worker. */
function readCa(path: string): Promise<string> {
  let pem = caFiles.get(path);
  if (!pem) {
    pem = readFile(path, 'utf8');
    caFiles.set(path, pem);
    pem.catch(() => caFiles.delete(path));
  }
  return pem;
}

/** A copy that does not keep the larger string it was sliced from alive. */
const flat = (text: string) => Buffer.from(text, 'utf8').toString('utf8');

/** Reads and checks a device's credentials once; throws what OpenSSL says (KEY_VALUES_MISMATCH, md too weak…). */
export async function loadDeviceTls(spec: DeviceSpec): Promise<DeviceTls> {
  const { chain, key, ca } = spec.credentials;
  const [caPem, chainPem, keyPem] = await Promise.all([
    readCa(ca),
    chain ? readFile(chain, 'utf8') : undefined,
    key ? readFile(key, 'utf8') : undefined,
  ]);
  return deviceTlsFromPem(spec, caPem, chainPem, keyPem);
}

/** The same from PEM in memory: a rotated or provisioned identity, whose key never touched a file. */
export function deviceTlsFromPem(
  spec: Pick<DeviceSpec, 'rogue' | 'credentials'>,
  caPem: string,
  chainPem: string | undefined,
  keyPem: string | undefined,
): DeviceTls {
  const { ca } = spec.credentials;
  if (chainPem === undefined || keyPem === undefined) {
    const own = privateContext(spec.rogue, caPem, chainPem, keyPem);
    return { context: () => own };
  }
  const leafEnd = chainPem.indexOf(PEM_END) + PEM_END.length;
  if (spec.rogue || !nativeSettersAvailable()) {
    // Loading a private context validates the pair exactly as a connection would (and throws if it is wrong).
    const own = privateContext(spec.rogue, caPem, chainPem, keyPem);
    const leaf = new X509Certificate(chainPem.slice(0, leafEnd));
    return { context: () => own, leafFingerprint: leaf.fingerprint256, leaf: validityOf(leaf) };
  }
  const leaf = new X509Certificate(chainPem.slice(0, leafEnd));
  const issuer = createHash('sha256').update(chainPem.slice(leafEnd).trim()).digest('hex');
  const sharedKey = `${ca}|${issuer}|${leaf.publicKey.asymmetricKeyType}`;
  let context = shared.get(sharedKey);
  if (!context) {
    context = tls.createSecureContext({ ca: caPem });
    // Node appends chain certificates on every setCert: the issuing CA goes in once, with this first full chain.
    nativeOf(context).setCert(chainPem);
    shared.set(sharedKey, context);
  }
  // Per device only its leaf and key stay (as PEM text); the chain is dropped here.
  const deviceTls = sharedDeviceTls(context, flat(chainPem.slice(0, leafEnd)), keyPem, leaf.fingerprint256);
  // Putting the pair into the shared context now checks it exactly as a connection would (KEY_VALUES_MISMATCH, a
  // key too small for the security level…) — without building a context (and a CA store) per device just to check,
  // which was ~5 ms a device and a quarter of a 1,000-device start-up.
  deviceTls.context();
  return { ...deviceTls, leaf: validityOf(leaf) };
}

function validityOf(leaf: X509Certificate): NonNullable<DeviceTls['leaf']> {
  return {
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    serial: leaf.serialNumber.toUpperCase(),
  };
}

/** The trusted root PEM of a spec (read once per worker). */
export function readTrustedCa(spec: Pick<DeviceSpec, 'credentials'>): Promise<string> {
  return readCa(spec.credentials.ca);
}

function privateContext(rogue: boolean, caPem: string, chainPem?: string, keyPem?: string): SecureContext {
  return tls.createSecureContext({
    // A rogue runs "old firmware": it must be able to present a SHA-1 certificate so the broker refuses it.
    ...(rogue && { ciphers: 'DEFAULT:@SECLEVEL=0' }),
    ca: caPem,
    ...(chainPem !== undefined && { cert: chainPem }),
    ...(keyPem !== undefined && { key: keyPem }),
  });
}

/** A separate function so that the closure below holds only what it needs. */
function sharedDeviceTls(
  context: SecureContext,
  leafPem: string,
  keyPem: string,
  leafFingerprint: string,
): DeviceTls {
  return {
    leafFingerprint,
    // A method, not an arrow property: under tsx a named arrow gets a property store for its name (per device).
    context() {
      const native = nativeOf(context);
      native.setCert(leafPem);
      native.setKey(keyPem);
      return context;
    },
  };
}

function nativeOf(context: SecureContext): NativeContext {
  return (context as unknown as { context: NativeContext }).context;
}

let settersAvailable: boolean | undefined;
function nativeSettersAvailable(): boolean {
  if (settersAvailable === undefined) {
    const native = (tls.createSecureContext() as unknown as { context?: Partial<NativeContext> }).context;
    settersAvailable = typeof native?.setCert === 'function' && typeof native.setKey === 'function';
  }
  return settersAvailable;
}
