/** Public types of the PKI. The JSON shape of IdentityInfo is the contract of `certfleet pki show --json`. */
import type { ROGUE_KINDS_WITH_FILES } from '../core/rogues.ts';

export type KeyType = 'ec' | 'rsa';

/**
 * What an identity is for. 'enrolled': a CN the broker's enrollment service signed a certificate for (provisioned by
 * claim); it is known from the enrollment ledger only, the CA holds none of its files (its paths are empty).
 */
export type IdentityRole =
  | 'root-ca'
  | 'issuing-ca'
  | 'server'
  | 'dashboard'
  | 'device'
  | 'rogue'
  | 'enrolled';

/** 'corrupt': `pki list` could not read the certificate file (IdentityInfo.problem says why). */
export type CertificateStatus = 'valid' | 'expired' | 'not-yet-valid' | 'revoked' | 'corrupt';

/** Absolute paths of one identity's files. `key`/`chain` may be absent (no-cert, CA certificates). */
export interface IdentityPaths {
  /** The leaf certificate (PEM). */
  cert: string;
  /** The private key (PKCS#8 PEM, mode 0600). */
  key: string;
  /** Leaf followed by the issuing CA: what a client presents. */
  chain: string;
  /** The root CA a peer of this identity must trust (the one that signed the chain). */
  ca: string;
}

export interface IdentityInfo {
  id: string;
  role: IdentityRole;
  /** Set for role 'rogue'. */
  rogueKind?: (typeof ROGUE_KINDS_WITH_FILES)[number];
  subject: string;
  commonName: string;
  issuer: string;
  /** Hex, upper case, no separators. */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** e.g. 'ec-p256', 'rsa-2048'. */
  keyType: string;
  keyUsage: string[];
  extKeyUsage: string[];
  subjectAltNames: string[];
  /** SHA-256 over the DER certificate, colon-separated upper-case hex, as openssl prints it. */
  fingerprint256: string;
  status: CertificateStatus;
  /** Only with status 'corrupt': what is wrong with the certificate file. */
  problem?: string;
  paths: IdentityPaths;
}

/** Where everything lives below the state dir; every path absolute. */
export interface PkiLayout {
  stateDir: string;
  pkiDir: string;
  rootCert: string;
  rootKey: string;
  rootCrl: string;
  issuingCert: string;
  issuingKey: string;
  issuingCrl: string;
  /** Both CRLs, concatenated: what a TLS server loads (every CA in the chain needs one). */
  crlBundle: string;
  /** Root + issuing CA certificates. */
  caBundle: string;
  identitiesDir: string;
  rogueDir: string;
  index: string;
  /** The ids of an issuance in progress, written before any of its files: what recovery checks after a crash. */
  journal: string;
  /** The last CRL bundle a broker verified and used: where it starts from when the bundle is bad. */
  lastGoodCrl: string;
  lockTarget: string;
  policy: string;
}
