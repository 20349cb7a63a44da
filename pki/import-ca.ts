/**
 * Bring your own CA: `pki init --ca-cert FILE [--ca-key FILE]`, so the devices and the rogue kit come from the CA a
 * user's broker already trusts.
 *
 * - With the key, the CA takes the root's place: certfleet's own EC issuing CA is created under it and issues every
 *   device (so the CA must allow one CA below it: no `pathLen 0`). A broker that trusts the CA trusts our devices.
 * - With the certificate only, certfleet keeps its own CA (for its broker and dashboard) and records the user's CA as
 *   "external": `certfleet check` then runs only the rogues that need no CA key, and names the ones it skips.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { UserError } from '../core/user-error.ts';
import type { CertificateAuthority } from './authority.ts';
import { asn1, type Asn1, extensionOf, pemToDer } from './der.ts';
import { impostorClientCredential } from './impostor-root.ts';
import type { PkiLayout } from './types.ts';

export interface ImportedCa {
  certFile: string;
  certPem: string;
  cert: X509Certificate;
  /** Present when the key was given. */
  keyPem?: string;
  authority?: CertificateAuthority;
}

const BASIC_CONSTRAINTS = '2.5.29.19';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/;

async function readInput(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read ${flag}`, `${file}: ${(error as Error).message}`);
  }
}

/** basicConstraints of a DER certificate: cA and pathLenConstraint (undefined: no limit). */
export function basicConstraintsOf(certDer: Buffer): { ca: boolean; pathLen?: number } {
  const value = extensionOf(certDer, BASIC_CONSTRAINTS);
  if (value === undefined) return { ca: false };
  const body = asn1.fromDer(value).value as Asn1[];
  const flag = body.find((node) => node.type === asn1.Type.BOOLEAN);
  const limit = body.find((node) => node.type === asn1.Type.INTEGER);
  return {
    ca: flag !== undefined && (flag.value as string) !== '\x00',
    ...(limit && { pathLen: asn1.derToInteger(limit.value as string) }),
  };
}

/** Reads and checks the CA a user brings: a PEM CA certificate (RSA or EC) that is valid now, and its key. */
export async function readImportedCa(certFile: string, keyFile?: string): Promise<ImportedCa> {
  const text = await readInput(certFile, '--ca-cert');
  const certPem = PEM_CERT.exec(text)?.[0];
  let cert: X509Certificate;
  try {
    if (!certPem) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) in it');
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw new UserError('cannot import the CA', `${certFile}: ${(error as Error).message}`);
  }
  const pem = certPem.endsWith('\n') ? certPem : `${certPem}\n`;
  const type = cert.publicKey.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') {
    throw new UserError(
      'cannot import the CA',
      `${certFile} holds a ${type} key`,
      'certfleet signs with RSA or EC CAs.',
    );
  }
  const constraints = basicConstraintsOf(pemToDer(pem));
  if (!cert.ca || !constraints.ca) {
    throw new UserError(
      'cannot import the CA',
      `${certFile} is not a CA certificate (${cert.subject.replace(/\n/g, ', ')}: no basicConstraints CA:TRUE)`,
      'Pass the certificate of the CA that signs your devices (root or issuing CA), not a device or server certificate.',
    );
  }
  const now = Date.now();
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) {
    throw new UserError(
      'cannot import the CA',
      `${certFile} is not valid now (${cert.validFrom} → ${cert.validTo})`,
    );
  }
  if (keyFile === undefined) return { certFile, certPem: pem, cert };

  const keyPem = await readInput(keyFile, '--ca-key');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (error) {
    throw new UserError(
      'cannot import the CA key',
      `${keyFile}: ${(error as Error).message}`,
      'Pass an unencrypted PEM private key (PKCS#8 or traditional); decrypt it first with `openssl pkey -in key.pem -out plain.pem`.',
    );
  }
  if (!cert.checkPrivateKey(privateKey)) {
    throw new UserError('cannot import the CA', `${keyFile} is not the key of ${certFile}`);
  }
  if (constraints.pathLen === 0) {
    throw new UserError(
      'cannot import the CA',
      `${certFile} may not have a CA below it (pathLen 0), and certfleet issues devices from its own issuing CA under yours`,
      'Import the CA one level up (the one that signed it), or a CA without a path length limit.',
    );
  }
  return {
    certFile,
    certPem: pem,
    cert,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    authority: { certPem: pem, certDer: pemToDer(pem), publicKey: cert.publicKey, privateKey },
  };
}

/** Where a certificate-only CA is recorded: the CA of a broker we hold no key for, and an impostor of it. */
export function externalCaFiles(layout: PkiLayout) {
  const dir = join(layout.pkiDir, 'external-ca');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    impostor: {
      cert: join(dir, 'impostor-ca', 'cert.pem'),
      key: join(dir, 'impostor-ca', 'key.pem'),
      chain: join(dir, 'impostor-ca', 'chain.pem'),
    },
  };
}

export async function writeExternalCa(layout: PkiLayout, imported: ImportedCa): Promise<void> {
  const files = externalCaFiles(layout);
  await mkdir(join(files.dir, 'impostor-ca'), { recursive: true });
  // The one rogue of "our CA" that needs no CA key: a root with your CA's name, another key.
  const impostor = await impostorClientCredential(pemToDer(imported.certPem), 'rogue-impostor-ca');
  await writeFileAtomic(files.impostor.key, impostor.keyPem, 0o600);
  await writeFileAtomic(files.impostor.cert, impostor.certPem);
  await writeFileAtomic(files.impostor.chain, impostor.chainPem);
  await writeFileAtomic(files.ca, imported.certPem);
}

export interface ExternalCa {
  /** The user's CA certificate. */
  ca: string;
  /** A client credential whose issuer name is that CA's, signed by another key. */
  impostor: { chain: string; key: string };
}

/** The certificate-only CA recorded by `pki init --ca-cert` (without --ca-key), if any. */
export async function readExternalCa(layout: PkiLayout): Promise<ExternalCa | undefined> {
  const files = externalCaFiles(layout);
  try {
    await access(files.ca);
  } catch {
    return undefined;
  }
  return { ca: files.ca, impostor: { chain: files.impostor.chain, key: files.impostor.key } };
}
