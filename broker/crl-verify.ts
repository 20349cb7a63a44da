/**
 * Which CRL bundle the broker may use. A bundle is accepted only when it holds exactly one CRL for each of our CAs
 * (the root's signed by the root, the issuing CA's by the issuing CA), each inside its validity window, and neither
 * CRL number goes below what was seen before — the last accepted bundle, and the numbers the CA's index records.
 * Anything else is a CrlProblem: the caller keeps the last good CRL in force and says why, once.
 */
import { X509Certificate } from 'node:crypto';
import { CrlProblem, checkCrl, type ParsedCrl, parseCrl, signedBy } from '../pki/index.ts';
import { normalizeSerial } from './peer-certificate.ts';

export interface CrlAuthorities {
  root: X509Certificate;
  issuing: X509Certificate;
}

export interface CrlState {
  /** The bundle as read (both CRLs, PEM). */
  pem: string;
  /** One PEM per CRL: what the TLS context loads (Node reads only the first CRL of a single string). */
  crls: string[];
  /** Every serial revoked by any CA of the bundle, normalized. */
  revoked: ReadonlySet<string>;
  /** Earliest nextUpdate of the bundle: past it, OpenSSL refuses everyone. */
  nextUpdate: Date;
  /** CRL numbers, per CA. */
  numbers: { root: number; issuing: number };
}

export type CrlFloor = { root: number; issuing: number };

const BLOCK = /-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g;

export function readAuthorities(caBundlePem: string): CrlAuthorities {
  const certs = (
    caBundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  ).map((block) => new X509Certificate(block));
  const root = certs.find((cert) => cert.subject === cert.issuer && cert.verify(cert.publicKey));
  const issuing = certs.find((cert) => cert !== root && root && cert.checkIssued(root));
  if (!root || !issuing) throw new Error('the CA bundle does not hold a root and an issuing CA');
  return { root, issuing };
}

/**
 * Verifies a bundle. `floor`: the lowest acceptable CRL number per CA; `previous`: the bundle in force, whose
 * numbers may be repeated only by the very same CRL.
 */
export function verifyCrlBundle(
  pem: string,
  cas: CrlAuthorities,
  floor: CrlFloor,
  previous: CrlState | null,
  now = new Date(),
): CrlState {
  if (pem.trim() === '') throw new CrlProblem('the file is empty');
  const blocks = pem.match(BLOCK) ?? [];
  if (blocks.length === 0) throw new CrlProblem('no "BEGIN X509 CRL" block (not a PEM CRL bundle)');
  const byCa: { root?: ParsedCrl; issuing?: ParsedCrl } = {};
  for (const block of blocks) {
    const crl = parseCrl(block);
    const ca = signedBy(crl, cas.issuing) ? 'issuing' : signedBy(crl, cas.root) ? 'root' : null;
    if (!ca)
      throw new CrlProblem('a CRL in the bundle is not signed by our root or issuing CA (forged or foreign)');
    if (byCa[ca]) throw new CrlProblem(`the bundle holds two CRLs of the ${ca} CA`);
    byCa[ca] = crl;
  }
  const revoked = new Set<string>();
  const numbers = { root: 0, issuing: 0 };
  let nextUpdate = new Date(8640000000000000);
  for (const ca of ['root', 'issuing'] as const) {
    const crl = byCa[ca];
    if (!crl) throw new CrlProblem(`the bundle has no CRL of the ${ca} CA (OpenSSL needs one per CA)`);
    const caName = `${ca} CA`;
    try {
      checkCrl(crl, cas[ca], caName, now);
    } catch (error) {
      const problem = error as CrlProblem;
      throw new CrlProblem(`the ${caName}'s CRL is ${problem.message.replace(/^it /, '')}`, problem.kind);
    }
    const number = crl.number!;
    const lowest = Math.max(floor[ca], previous?.numbers[ca] ?? 0);
    if (number < lowest) {
      throw new CrlProblem(
        `the ${caName}'s CRL number ${number} is older than number ${lowest} already in use`,
      );
    }
    if (previous && number === previous.numbers[ca] && !previous.crls.includes(crl.pem)) {
      throw new CrlProblem(`the ${caName}'s CRL reuses number ${number} with different content`);
    }
    numbers[ca] = number;
    for (const entry of crl.revoked) revoked.add(normalizeSerial(entry.serialHex));
    if (crl.nextUpdate! < nextUpdate) nextUpdate = crl.nextUpdate!;
  }
  return { pem, crls: [byCa.root!.pem, byCa.issuing!.pem], revoked, nextUpdate, numbers };
}
