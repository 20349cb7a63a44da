/**
 * The gate reads a verified peer with getPeerCertificate() (no copy of the certificate) instead of
 * getPeerX509Certificate(): the identity and the audit's certificate summary must come out exactly as the exact path
 * gives them — the issuer string keys revocation — and a name that could print differently must be left to it.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commonNameOf,
  summarizeCertificate,
  summarizeVerifiedPeer,
  type VerifiedPeer,
} from '../../broker/peer-certificate.ts';
import {
  buildCertificate,
  ensureIdentity,
  initPki,
  loadIssuingCa,
  loadTrustMaterial,
  pkiLayout,
} from '../../pki/index.ts';

let stateDir: string;
let server: tls.Server;
let issuers: X509Certificate[];
let seen: (socket: TLSSocket) => void = () => {};

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'certfleet-peer-summary-'));
  await initPki(stateDir);
  const trust = await loadTrustMaterial(stateDir);
  const bundle = await readFile(pkiLayout(stateDir).caBundle, 'utf8');
  issuers = (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem),
  );
  server = tls.createServer(
    { ca: trust.ca, crl: trust.crl, cert: trust.serverCert, key: trust.serverKey, requestCert: true },
    (socket) => {
      seen(socket);
      socket.destroy();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(stateDir, { recursive: true, force: true });
});

interface Both {
  fast: VerifiedPeer | null;
  exact: VerifiedPeer;
}

async function present(chain: string, key: string): Promise<Both> {
  const { ca } = await loadTrustMaterial(stateDir);
  const read = new Promise<Both>((resolve) => {
    seen = (socket) => {
      expect(socket.authorized).toBe(true);
      const fast = summarizeVerifiedPeer(socket, issuers);
      const x509 = socket.getPeerX509Certificate()!;
      resolve({ fast, exact: { cn: commonNameOf(socket, x509), cert: summarizeCertificate(x509) } });
    };
  });
  const { port } = server.address() as { port: number };
  const client = tls.connect({ host: '127.0.0.1', port, ca, cert: chain, key, servername: 'localhost' });
  client.on('error', () => {});
  try {
    return await read;
  } finally {
    client.destroy();
  }
}

async function presentIdentity(id: string, keyType: 'ec' | 'rsa'): Promise<Both> {
  const info = await ensureIdentity(stateDir, id, { keyType });
  return present(await readFile(info.paths.chain!, 'utf8'), await readFile(info.paths.key!, 'utf8'));
}

describe('the verified-peer summary', () => {
  it.each([
    ['an EC device', 'sensor-ec-1', 'ec'],
    ['an RSA device', 'sensor-rsa-1', 'rsa'],
  ] as const)('is exactly the exact path for %s', async (_label, id, keyType) => {
    const { fast, exact } = await presentIdentity(id, keyType);
    expect(exact.cn).toBe(id);
    expect(fast).toEqual(exact);
    expect(fast?.cert.issuer).toMatch(/CN=certfleet Issuing CA/);
  });

  it('leaves a subject that RFC 2253 would escape to the exact path', async () => {
    const ca = await loadIssuingCa(pkiLayout(stateDir));
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = Date.now();
    const leaf = await buildCertificate({
      subject: { commonName: 'sensor-1, O=spoof', organizationName: 'certfleet' },
      publicKey,
      issuer: ca,
      profile: 'client',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    });
    const { fast, exact } = await present(
      `${leaf.pem.trim()}\n${ca.certPem}`,
      privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    );
    expect(fast).toBeNull();
    expect(exact.cn).toBe('sensor-1, O=spoof');
    expect(exact.cert.subject).toContain('\\,'); // escaped on the exact path: the two forms would differ
  });
});
