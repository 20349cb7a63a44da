/** Who may sign a policy for the cluster: our broker identity, valid and not revoked — nobody else, nothing altered. */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PolicySigner,
  signPolicy,
  type VerifyContext,
  verifyPolicyEnvelope,
} from '../../broker/cluster/policy-signature.ts';
import { revocationKey } from '../../broker/peer-certificate.ts';
import { DEFAULT_POLICY_YAML, pkiLayout, showIdentity } from '../../pki/index.ts';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';

let pki: PkiFixture;
let server: PolicySigner;
let context: VerifyContext;

const signerOf = async (id: string): Promise<PolicySigner> => {
  const info = await showIdentity(pki.stateDir, id);
  return { certPem: await readFile(info.paths.cert, 'utf8'), keyPem: await readFile(info.paths.key, 'utf8') };
};

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'] }, true); // with the rogue kit: a serverAuth certificate not named server
  server = await signerOf('server');
  const caPem = await readFile(pkiLayout(pki.stateDir).caBundle, 'utf8');
  const issuers = (caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem),
  );
  context = { issuers, revoked: new Set(), appliedSeq: 0 };
}, 60_000);
afterAll(() => pki.cleanup());

const signed = (signer: PolicySigner, seq = 1) =>
  JSON.stringify(signPolicy(DEFAULT_POLICY_YAML, seq, 'node-a', signer));

describe('policy envelopes from Redis', () => {
  it("the broker's own signature verifies and yields the exact YAML", () => {
    const envelope = verifyPolicyEnvelope(signed(server, 3), context);
    expect(envelope).toMatchObject({ seq: 3, node: 'node-a', yaml: DEFAULT_POLICY_YAML });
  });

  it('any changed field breaks the signature: the YAML, the sequence, the node', () => {
    const good = JSON.parse(signed(server, 3));
    for (const change of [
      { yaml: `${DEFAULT_POLICY_YAML}# x\n` },
      { seq: 4 },
      { node: 'node-b' },
      { issued: new Date(0).toISOString() },
    ]) {
      expect(() => verifyPolicyEnvelope(JSON.stringify({ ...good, ...change }), context)).toThrow(
        /signature does not verify/,
      );
    }
  });

  it('a signer that is not our valid, unrevoked broker is refused', async () => {
    const device = await signerOf('sensor-001');
    const wrongUsage = await signerOf('rogue-wrong-usage');
    const foreign = await signerOf('rogue-foreign-ca');
    expect(() => verifyPolicyEnvelope(signed(device), context)).toThrow(/not the broker identity/);
    // serverAuth, from our CA, but another name (the rogue kit's wrong-usage certificate)
    expect(() => verifyPolicyEnvelope(signed(wrongUsage), context)).toThrow(/not the broker identity/);
    expect(() => verifyPolicyEnvelope(signed(foreign), context)).toThrow(/not issued by our CA/);
    const cert = new X509Certificate(server.certPem);
    const revoked = new Set([revocationKey(cert.issuer.split('\n').join(', '), cert.serialNumber)]);
    expect(() => verifyPolicyEnvelope(signed(server), { ...context, revoked })).toThrow(/revoked/);
    const later = new Date(new Date(cert.validTo).getTime() + 1000);
    expect(() => verifyPolicyEnvelope(signed(server), { ...context, now: later })).toThrow(/not valid now/);
  });

  it('older or equal sequences, unsigned envelopes and garbage are refused', () => {
    expect(() => verifyPolicyEnvelope(signed(server, 5), { ...context, appliedSeq: 5 })).toThrow(/not newer/);
    const unsigned = { ...JSON.parse(signed(server)), signature: '' };
    expect(() => verifyPolicyEnvelope(JSON.stringify(unsigned), context)).toThrow(/unsigned/);
    expect(() => verifyPolicyEnvelope('{"format":"certfleet-policy/1"', context)).toThrow(/not JSON/);
    expect(() => verifyPolicyEnvelope(JSON.stringify({ yaml: 'x' }), context)).toThrow(/format/);
  });
});
