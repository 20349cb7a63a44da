/**
 * The policy as it travels through Redis: a signed envelope. Redis is a message bus, not an authority — whoever can
 * write to it must not be able to grant a device `#`. The node whose policy file changed signs the YAML with its
 * broker key (the `server` identity every node has, issued by our CA); a receiver believes the envelope only if:
 * - the signer certificate was issued by one of our CAs (its signature verifies with the CA's key, SHA-256+),
 *   names the broker (`CN=server`), is for server authentication, is within its validity and is not revoked;
 * - the signature over the exact fields (format, sequence, node, time, YAML) verifies with the signer's key;
 * - its sequence number is newer than the policy this node applies (an old, once-valid policy cannot be replayed);
 * - the YAML passes the same schema as a policy file.
 */
import { createHash, sign, verify, X509Certificate } from 'node:crypto';
import { signatureAlgorithmOid } from '../../pki/index.ts';
import { revocationKey } from '../peer-certificate.ts';

export const POLICY_FORMAT = 'certfleet-policy/1';
/** The broker identity `pki init` issues; only it may sign a policy for the cluster. */
export const POLICY_SIGNER_CN = 'server';
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';
const STRONG_SIGNATURES = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12',
  '1.2.840.113549.1.1.13',
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3',
  '1.2.840.10045.4.3.4',
]);

export interface PolicyEnvelope {
  format: typeof POLICY_FORMAT;
  /** Cluster-wide sequence (Redis INCR): the newest policy wins, an older one is a replay. */
  seq: number;
  /** The node whose policy file changed. */
  node: string;
  /** When it was signed (ISO 8601): for people reading the audit, never for ordering. */
  issued: string;
  /** The policy file's text. */
  yaml: string;
  /** The signer's certificate (PEM). */
  signer: string;
  /** base64 signature (SHA-256) over `signedBytes`. */
  signature: string;
}

export class PolicyRefused extends Error {
  override readonly name = 'PolicyRefused';
  constructor(
    message: string,
    /** Genuine, but not newer than the policy in force (a replay, or the store read back after an edit). */
    readonly stale = false,
  ) {
    super(message);
  }
}

export interface PolicySigner {
  /** The broker's certificate chain (PEM; the first block is the leaf). */
  certPem: string;
  keyPem: string;
}

function signedBytes(envelope: Pick<PolicyEnvelope, 'format' | 'seq' | 'node' | 'issued' | 'yaml'>): Buffer {
  return Buffer.from(
    JSON.stringify([envelope.format, envelope.seq, envelope.node, envelope.issued, envelope.yaml]),
  );
}

export function signPolicy(yaml: string, seq: number, node: string, signer: PolicySigner): PolicyEnvelope {
  const leaf = signer.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  if (!leaf) throw new Error('the broker certificate file holds no certificate');
  const fields = { format: POLICY_FORMAT, seq, node, issued: new Date().toISOString(), yaml } as const;
  const signature = sign('sha256', signedBytes(fields), signer.keyPem).toString('base64');
  return { ...fields, signer: `${leaf}\n`, signature };
}

/** A short, stable name of an envelope's exact text: to say once per bad envelope, not once per sighting. */
export function envelopeDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export interface VerifyContext {
  /** Our CA certificates. */
  issuers: readonly X509Certificate[];
  /** Serials revoked now, as `revocationKey(issuer, serial)`. */
  revoked: ReadonlySet<string>;
  /** The sequence of the policy applied now (0: none from the cluster yet). */
  appliedSeq: number;
  now?: Date;
}

/** Parses and checks an envelope's text; throws PolicyRefused saying what failed. */
export function verifyPolicyEnvelope(text: string, context: VerifyContext): PolicyEnvelope {
  let value: Partial<PolicyEnvelope>;
  try {
    value = JSON.parse(text) as Partial<PolicyEnvelope>;
  } catch {
    throw new PolicyRefused('not a signed policy envelope (not JSON)');
  }
  if (typeof value !== 'object' || value === null) throw new PolicyRefused('not a signed policy envelope');
  if (value.format !== POLICY_FORMAT)
    throw new PolicyRefused(`unknown envelope format ${JSON.stringify(value.format)}`);
  const { seq, node, issued, yaml, signer, signature } = value;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) throw new PolicyRefused('no valid sequence number');
  if (typeof node !== 'string' || typeof issued !== 'string' || typeof yaml !== 'string')
    throw new PolicyRefused('node, time or policy text missing');
  if (typeof signature !== 'string' || signature === '' || typeof signer !== 'string' || signer === '')
    throw new PolicyRefused('unsigned: no signature or no signer certificate');

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(signer);
  } catch {
    throw new PolicyRefused('the signer certificate does not parse');
  }
  checkSigner(cert, context);
  if (
    !verify('sha256', signedBytes(value as PolicyEnvelope), cert.publicKey, Buffer.from(signature, 'base64'))
  )
    throw new PolicyRefused(
      'the signature does not verify: the policy was altered after it was signed, or signed with another key',
    );
  if ((seq as number) <= context.appliedSeq)
    throw new PolicyRefused(
      `sequence ${seq} is not newer than the applied ${context.appliedSeq} (a replayed or out-of-order policy)`,
      true,
    );
  return value as PolicyEnvelope;
}

function checkSigner(cert: X509Certificate, context: VerifyContext): void {
  const name = cert.subject.split('\n').join(', ');
  const issuer = context.issuers.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuer) throw new PolicyRefused(`the signer "${name}" was not issued by our CA`);
  if (!STRONG_SIGNATURES.has(signatureAlgorithmOid(cert)))
    throw new PolicyRefused(`the signer "${name}" is signed with a weak algorithm`);
  if (cert.ca) throw new PolicyRefused(`the signer "${name}" is a CA, not a broker`);
  const cns = cert.subject.split('\n').filter((line) => line.startsWith('CN='));
  if (cns.length !== 1 || cns[0] !== `CN=${POLICY_SIGNER_CN}`)
    throw new PolicyRefused(`the signer "${name}" is not the broker identity (CN=${POLICY_SIGNER_CN})`);
  if (!(cert.keyUsage ?? []).includes(SERVER_AUTH_OID))
    throw new PolicyRefused(`the signer "${name}" is not a server certificate (no serverAuth)`);
  const now = context.now ?? new Date();
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo))
    throw new PolicyRefused(
      `the signer's certificate is not valid now (${cert.validFrom} – ${cert.validTo})`,
    );
  const issuerName = cert.issuer.split('\n').join(', ');
  if (context.revoked.has(revocationKey(issuerName, cert.serialNumber)))
    throw new PolicyRefused(`the signer's certificate (serial ${cert.serialNumber}) is revoked`);
}
