import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRogueKit, initPki, issueIdentities, pkiLayout, showIdentity } from '../../pki/index.ts';
import { makeStateDir, run } from '../helpers/pki-fixture.ts';

// openssl is the oracle: our own code never judges its own certificates here.
let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir());
  await initPki(stateDir);
  await issueIdentities(stateDir, ['sensor-ec'], { keyType: 'ec' });
  await issueIdentities(stateDir, ['sensor-rsa'], { keyType: 'rsa' });
  await generateRogueKit(stateDir);
}, 120_000);
afterAll(() => cleanup?.());

async function verify(id: string, purpose: 'sslclient' | 'sslserver' = 'sslclient') {
  const layout = pkiLayout(stateDir);
  const info = await showIdentity(stateDir, id);
  // The chain file is passed as untrusted too, as a TLS peer would present it.
  return run('openssl', [
    'verify',
    '-auth_level',
    '1',
    '-CAfile',
    layout.rootCert,
    '-untrusted',
    info.paths.chain,
    '-purpose',
    purpose,
    '-crl_check_all',
    '-CRLfile',
    layout.crlBundle,
    info.paths.cert,
  ]);
}

describe('openssl verify accepts the real identities', () => {
  it.each(['sensor-ec', 'sensor-rsa', 'dashboard'])(
    '%s verifies as a TLS client with CRL checks',
    async (id) => {
      const result = await verify(id);
      expect(result.stdout).toContain(': OK');
      expect(result.code).toBe(0);
    },
  );

  it('server verifies as a TLS server, and names localhost, 127.0.0.1 and ::1', async () => {
    expect((await verify('server', 'sslserver')).code).toBe(0);
    const text = (
      await run('openssl', [
        'x509',
        '-noout',
        '-ext',
        'subjectAltName',
        '-in',
        (await showIdentity(stateDir, 'server')).paths.cert,
      ])
    ).stdout;
    expect(text).toContain('DNS:localhost');
    expect(text).toContain('IP Address:127.0.0.1');
    expect(text).toContain('IP Address:0:0:0:0:0:0:0:1');
  });

  it('server is not usable as a client certificate', async () => {
    const result = await verify('server', 'sslclient');
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('unsuitable certificate purpose');
  });
});

describe('openssl verify refuses each rogue with its own error', () => {
  it.each([
    ['rogue-self-signed', 'error 18 at 0 depth lookup: self-signed certificate'],
    ['rogue-foreign-ca', 'error 19 at 1 depth lookup: self-signed certificate in certificate chain'],
    ['rogue-impostor-ca', 'error 19 at 1 depth lookup: self-signed certificate in certificate chain'],
    ['rogue-expired', 'error 10 at 0 depth lookup: certificate has expired'],
    ['rogue-not-yet-valid', 'error 9 at 0 depth lookup: certificate is not yet valid'],
    ['rogue-revoked', 'error 23 at 0 depth lookup: certificate revoked'],
    ['rogue-wrong-usage', 'error 26 at 0 depth lookup: unsuitable certificate purpose'],
    ['rogue-sha1', 'error 68 at 0 depth lookup: CA signature digest algorithm too weak'],
  ])('%s', async (id, expected) => {
    const result = await verify(id);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(expected);
  });

  it('rogue-unknown-cn has a perfectly valid chain (the policy, not the PKI, refuses it)', async () => {
    expect((await verify('rogue-unknown-cn')).code).toBe(0);
  });

  it("rogue-wrong-key's private key does not match its certificate", async () => {
    const info = await showIdentity(stateDir, 'rogue-wrong-key');
    expect((await verify('rogue-wrong-key')).code).toBe(0);
    const fromCert = (await run('openssl', ['x509', '-noout', '-pubkey', '-in', info.paths.cert])).stdout;
    const fromKey = (await run('openssl', ['pkey', '-pubout', '-in', info.paths.key])).stdout;
    expect(fromKey).toContain('BEGIN PUBLIC KEY');
    expect(fromKey).not.toBe(fromCert);
  });

  it('the impostor broker verifies only against the foreign root, not ours', async () => {
    const result = await verify('rogue-impostor-broker', 'sslserver');
    expect(result.code).not.toBe(0);
  });
});

describe('every file parses with openssl and node:crypto', () => {
  const ids = [
    'root-ca',
    'issuing-ca',
    'server',
    'dashboard',
    'sensor-ec',
    'sensor-rsa',
    'rogue-self-signed',
    'rogue-foreign-ca',
    'rogue-impostor-ca',
    'rogue-expired',
    'rogue-not-yet-valid',
    'rogue-revoked',
    'rogue-wrong-usage',
    'rogue-sha1',
    'rogue-wrong-key',
    'rogue-unknown-cn',
    'rogue-impostor-broker',
  ];
  it.each(ids)('%s', async (id) => {
    const info = await showIdentity(stateDir, id);
    const text = await run('openssl', ['x509', '-noout', '-text', '-in', info.paths.cert]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Subject: ${info.subject.split(', ').join(', ').replace(/=/g, ' = ')}`);
    const cert = new X509Certificate(await readFile(info.paths.cert));
    expect(cert.fingerprint256).toBe(info.fingerprint256);
    expect(cert.serialNumber.toUpperCase()).toBe(info.serial);
    // Our own ASN.1 reading must agree with OpenSSL's, as node:crypto reports it.
    expect(info.subject).toBe(cert.subject.split('\n').join(', '));
    expect(info.issuer).toBe(cert.issuer.split('\n').join(', '));
    expect(info.subjectAltNames.join(', ')).toBe(cert.subjectAltName ?? '');
    expect(new Date(info.notAfter).getTime()).toBe(new Date(cert.validTo).getTime());
    const details = cert.publicKey.asymmetricKeyDetails!;
    expect(info.keyType).toBe(
      cert.publicKey.asymmetricKeyType === 'ec' ? 'ec-p256' : `rsa-${details.modulusLength}`,
    );
  });

  it('device certificates carry SHA-256 signatures, a positive 128-bit serial and matching key identifiers', async () => {
    const layout = pkiLayout(stateDir);
    const device = (
      await run('openssl', [
        'x509',
        '-noout',
        '-text',
        '-in',
        (await showIdentity(stateDir, 'sensor-ec')).paths.cert,
      ])
    ).stdout;
    const issuing = (await run('openssl', ['x509', '-noout', '-text', '-in', layout.issuingCert])).stdout;
    expect(device).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(device).toContain('TLS Web Client Authentication');
    const serial = (await showIdentity(stateDir, 'sensor-ec')).serial;
    expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
    const issuerSki = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(issuing)![1];
    const deviceAki = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(device)![1];
    expect(deviceAki).toBe(issuerSki);
  });

  it('both CRLs verify against their CA and are v2 with a CRL number and AKI', async () => {
    const layout = pkiLayout(stateDir);
    for (const [crl, ca] of [
      [layout.rootCrl, layout.rootCert],
      [layout.issuingCrl, layout.issuingCert],
    ] as const) {
      const result = await run('openssl', ['crl', '-in', crl, '-CAfile', ca, '-noout', '-text']);
      expect(result.stderr + result.stdout).toContain('verify OK');
      expect(result.stdout).toContain('Version 2');
      expect(result.stdout).toContain('X509v3 CRL Number');
      expect(result.stdout).toContain('X509v3 Authority Key Identifier');
    }
    const issuing = (await run('openssl', ['crl', '-in', layout.issuingCrl, '-noout', '-text'])).stdout;
    expect(issuing).toContain(`Serial Number: ${(await showIdentity(stateDir, 'rogue-revoked')).serial}`);
  });
});
