/**
 * Which CRL bundle the broker may use. A bundle is accepted only when it holds exactly one CRL for each of our CAs
 * (the root's signed by the root, the issuing CA's by the issuing CA), each inside its validity window, and neither
 * CRL number goes below what was seen before — the last accepted bundle, and the numbers the CA's index records.
 * Anything else is a CrlProblem: the caller keeps the last good CRL in force and says why, once.
 */
import type { X509Certificate } from 'node:crypto';
import { UserError } from '../core/user-error.ts';
import { CrlProblem, checkCrl, type ParsedCrl, parseCrl, signedBy } from '../pki/index.ts';
import type { CrlState } from './crl-watch.ts';
import { revocationKey } from './peer-certificate.ts';

export interface CrlAuthorities {
  root: X509Certificate;
  issuing: X509Certificate;
}

/** A bundle that verified: what the TLS context loads, plus the CRL number of each CA's CRL. */
export interface VerifiedCrl extends CrlState {
  numbers: { root: number; issuing: number };
}

export type CrlFloor = { root: number; issuing: number };

const BLOCK = /-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g;

/**
 * Our issuing CA (the CA of the bundle that issued no other CA of it) and the CA above it (our root, or a CA the user
 * brought with `pki init --ca-cert/--ca-key`, which need not be self-signed): each must have its CRL.
 */
export function authoritiesOf(certs: readonly X509Certificate[]): CrlAuthorities {
  const issuedBy = (child: X509Certificate, parent: X509Certificate) =>
    child !== parent && child.checkIssued(parent) && child.verify(parent.publicKey);
  const issuing = certs.find(
    (cert) => !certs.some((other) => issuedBy(other, cert)) && certs.some((parent) => issuedBy(cert, parent)),
  );
  const root = issuing && certs.find((parent) => issuedBy(issuing, parent));
  if (!issuing || !root) {
    throw new UserError(
      'cannot start the broker: the CA bundle is not a CA and the issuing CA under it',
      `${certs.length} certificate(s) in the bundle, no issuing CA signed by another of them`,
      'Re-create the PKI with `certfleet pki init --force`.',
    );
  }
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
  previous: VerifiedCrl | null,
  now = new Date(),
): VerifiedCrl {
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
    // Keyed by issuer and serial as the sessions are (peer-certificate.ts): serials are unique per CA only.
    const issuer = cas[ca].subject.split('\n').join(', ');
    for (const entry of crl.revoked) revoked.add(revocationKey(issuer, entry.serialHex));
    if (crl.nextUpdate! < nextUpdate) nextUpdate = crl.nextUpdate!;
  }
  return { pem, crls: [byCa.root!.pem, byCa.issuing!.pem], revoked, nextUpdate, numbers };
}
