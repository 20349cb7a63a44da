import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { UserError } from '../core/user-error.ts';
import type { Issuer } from './certificate-builder.ts';
import { pemToDer } from './der.ts';
import { readPkiFile } from './read-pki-file.ts';
import type { PkiLayout } from './types.ts';

export interface CertificateAuthority extends Issuer {
  certDer: Buffer;
  certPem: string;
}

function parseKey(path: string, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new UserError(
      'corrupt private key',
      `${path}: ${(error as Error).message}`,
      'Restore it, or run `certfleet pki init --force` to start over.',
    );
  }
}

function parseCert(path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new UserError(
      'corrupt certificate',
      `${path}: ${(error as Error).message}`,
      'Restore it, or run `certfleet pki init --force` to start over.',
    );
  }
}

async function loadAuthority(certPath: string, keyPath: string): Promise<CertificateAuthority> {
  const [certPem, keyPem] = await Promise.all([readPkiFile(certPath), readPkiFile(keyPath)]);
  const cert = parseCert(certPath, certPem);
  const privateKey = parseKey(keyPath, keyPem);
  if (!cert.checkPrivateKey(privateKey)) {
    throw new UserError(
      'CA key does not match its certificate',
      `${keyPath} vs ${certPath}`,
      'Run `certfleet pki init --force` to start over.',
    );
  }
  return { certPem, certDer: pemToDer(certPem), publicKey: cert.publicKey, privateKey };
}

export function loadIssuingCa(layout: PkiLayout): Promise<CertificateAuthority> {
  return loadAuthority(layout.issuingCert, layout.issuingKey);
}

export function loadRootCa(layout: PkiLayout): Promise<CertificateAuthority> {
  return loadAuthority(layout.rootCert, layout.rootKey);
}
