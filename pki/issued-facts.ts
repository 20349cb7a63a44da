import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pemToDer } from './der.ts';
import type { IndexEntry } from './index-file.ts';
import { type CertificateFacts, inspectCertificate } from './inspect.ts';
import type { LeafTemplate } from './leaf-template.ts';

/** A leaf this process just made, with what it was made from (issue.ts). */
export interface IssuedLeaf {
  certPem: string;
  entry: IndexEntry;
  template?: LeafTemplate;
  notBefore?: Date;
}

/** What a DER time keeps of a date: whole seconds. */
const toSecond = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString();

/**
 * What `pki show` would read back from each new certificate, without parsing a thousand of them: forge's parser costs
 * ~0.5 ms a certificate on the calling thread, the biggest cost left of a bulk issue. The first leaf of each template
 * is parsed; the others share its issuer, usages and names, and only their own fields (name, serial, validity, key,
 * fingerprint) are filled in — from the values they were encoded from (test/unit/pki-issued-facts.test.ts compares
 * both ways).
 */
export async function factsOfIssued(leaves: IssuedLeaf[]): Promise<CertificateFacts[]> {
  const shared = new Map<LeafTemplate, CertificateFacts>();
  let sinceYield = 0;
  const facts: CertificateFacts[] = [];
  for (const leaf of leaves) {
    // ~50 µs a leaf, 25 at a time: it runs while a bulk commit waits for the disk, and a slice that follows one of
    // the commit's own turns (the index's JSON) in the same loop iteration adds to it.
    if (++sinceYield === 25) {
      sinceYield = 0;
      await nextTurn();
    }
    facts.push(factsOf(leaf, shared));
  }
  return facts;
}

function factsOf(leaf: IssuedLeaf, shared: Map<LeafTemplate, CertificateFacts>): CertificateFacts {
  const known = leaf.template ? shared.get(leaf.template) : undefined;
  if (!known || !leaf.notBefore) {
    const facts = inspectCertificate(leaf.certPem);
    if (leaf.template) shared.set(leaf.template, facts);
    return facts;
  }
  const fingerprint = createHash('sha256').update(pemToDer(leaf.certPem)).digest('hex').toUpperCase();
  return {
    ...known,
    subject: `CN=${leaf.entry.id}`,
    commonName: leaf.entry.id,
    serial: leaf.entry.serial.replace(/^(00)+(?=[0-9A-F]{2})/, ''),
    notBefore: toSecond(leaf.notBefore),
    notAfter: toSecond(new Date(leaf.entry.notAfter)),
    keyType: leaf.entry.keyType,
    fingerprint256: fingerprint.match(/../g)!.join(':'),
  };
}
