/**
 * The impostor CA of the rogue kit: a root whose name is byte for byte the real root's (subject and issuer), with a
 * key of its own. A verifier that matched issuers by name alone would accept what it signs. Built from the real
 * root's DER, so it copies any CA — ours, or one a user imported with `pki init --ca-cert`.
 */
import type { CertificateAuthority } from './authority.ts';
import { buildCertificate, buildTbs } from './certificate-builder.ts';
import { type Asn1, derToPem, randomSerialHex, signStructure, subjectNameOf } from './der.ts';
import { generateKeys, privateKeyPem } from './keys.ts';

const DAY_MS = 86_400_000;

export async function makeImpostorOf(realRootDer: Buffer): Promise<CertificateAuthority> {
  const keys = await generateKeys('ec');
  const notBefore = new Date(Date.now() - DAY_MS);
  // Self-signed (its own key ids), then both names replaced by the real root's, byte for byte.
  const tbs = buildTbs(
    {
      subject: { commonName: 'impostor' },
      publicKey: keys.publicKey,
      issuer: { name: { commonName: 'impostor' }, ...keys },
      profile: 'root-ca',
      notBefore,
      notAfter: new Date(notBefore.getTime() + 3650 * DAY_MS),
    },
    randomSerialHex(),
  );
  const fields = tbs.value as Asn1[];
  fields[3] = subjectNameOf(realRootDer);
  fields[5] = subjectNameOf(realRootDer);
  const der = await signStructure(tbs, keys.privateKey, 'sha256');
  return { ...keys, certDer: der, certPem: derToPem(der, 'CERTIFICATE') };
}

/** A client certificate from the impostor of `realRootDer`: its issuer name is the real root's. */
export async function impostorClientCredential(
  realRootDer: Buffer,
  commonName: string,
): Promise<{ certPem: string; keyPem: string; chainPem: string }> {
  const impostor = await makeImpostorOf(realRootDer);
  const keys = await generateKeys('ec');
  const notBefore = new Date(Date.now() - DAY_MS);
  const leaf = await buildCertificate({
    subject: { commonName },
    publicKey: keys.publicKey,
    issuer: impostor,
    profile: 'client',
    notBefore,
    notAfter: new Date(notBefore.getTime() + 365 * DAY_MS),
  });
  return { certPem: leaf.pem, keyPem: privateKeyPem(keys.privateKey), chainPem: leaf.pem + impostor.certPem };
}
