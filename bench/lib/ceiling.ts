/**
 * The physical limit of an mTLS handshake per core: the public-key operations the *broker* must do for one full
 * TLS 1.3 handshake with our PKI (root RSA-3072 → issuing EC P-256 → leaf; both CRLs loaded, so OpenSSL checks
 * revocation for every certificate in the chain), priced with `openssl speed`.
 */
import type { CryptoSpeeds } from '../machine.ts';

export type DeviceKey = 'ec' | 'rsa';

/** Operations counted per handshake on the server side (an estimate from how OpenSSL 3.0 verifies a chain). */
export function serverOperations(deviceKey: DeviceKey): Record<string, number> {
  return {
    'ECDSA P-256 sign (server CertificateVerify)': 1,
    'X25519 (key share + shared secret)': 2,
    // leaf signature by the issuing CA, the issuing CA's CRL, and (EC devices) the client's CertificateVerify
    'ECDSA P-256 verify': deviceKey === 'ec' ? 3 : 2,
    'RSA-2048 verify (client CertificateVerify)': deviceKey === 'rsa' ? 1 : 0,
    // the issuing CA's certificate by the root, and the root's CRL (checked for the issuing CA and the root itself)
    'RSA-3072 verify': 3,
  };
}

/** Full handshakes per CPU-second of one core if the broker did nothing but this public-key arithmetic. */
export function handshakeCeiling(speeds: CryptoSpeeds, deviceKey: DeviceKey): number {
  const seconds =
    1 / speeds.ecdsaP256.sign +
    2 / speeds.x25519 +
    (deviceKey === 'ec' ? 3 : 2) / speeds.ecdsaP256.verify +
    (deviceKey === 'rsa' ? 1 / speeds.rsa2048.verify : 0) +
    3 / speeds.rsa3072.verify;
  return 1 / seconds;
}

/** The same for the load generator (the client side), which does not check CRLs but signs with the device key. */
export function clientCeiling(speeds: CryptoSpeeds, deviceKey: DeviceKey): number {
  const seconds =
    (deviceKey === 'ec' ? 1 / speeds.ecdsaP256.sign : 1 / speeds.rsa2048.sign) +
    2 / speeds.x25519 +
    2 / speeds.ecdsaP256.verify + // server leaf signature, server CertificateVerify
    1 / speeds.rsa3072.verify; // the issuing CA by the root
  return 1 / seconds;
}
