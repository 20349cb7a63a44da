import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import {
  diagnoseClientCertificate,
  generateRogueKit,
  initPki,
  issueIdentities,
  loadTrustMaterial,
  pkiLayout,
  showIdentity,
} from '../../pki/index.ts';
import { makeStateDir } from '../helpers/pki-fixture.ts';

// A real Node TLS server with requestCert, configured the way the broker is: it records what OpenSSL decided
// about each client certificate.
let stateDir: string;
let cleanup: () => Promise<void>;
let server: tls.Server;
let port: number;
let rootCa: string;
const verdicts = new Map<number, { authorized: boolean; reason: string; detail?: string }>();
let issuers: X509Certificate[];

beforeAll(async () => {
  ({ dir: stateDir, cleanup } = await makeStateDir());
  await initPki(stateDir);
  await issueIdentities(stateDir, ['sensor-ec'], { keyType: 'ec' });
  await issueIdentities(stateDir, ['sensor-rsa'], { keyType: 'rsa' });
  await generateRogueKit(stateDir);
  const trust = await loadTrustMaterial(stateDir);
  rootCa = trust.ca;
  const layout = pkiLayout(stateDir);
  issuers = [layout.rootCert, layout.issuingCert].map((file) => new X509Certificate(readFileSync(file)));
  server = tls.createServer(
    {
      ca: trust.ca,
      crl: trust.crl,
      cert: trust.serverCert,
      key: trust.serverKey,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (socket) => {
      const code = (socket.authorizationError as unknown as string | null) ?? undefined;
      verdicts.set(
        socket.remotePort!,
        socket.authorized
          ? { authorized: true, reason: 'OK' }
          : {
              authorized: false,
              ...diagnoseClientCertificate(code, socket.getPeerX509Certificate(), issuers),
            },
      );
      socket.end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await cleanup?.();
});

async function connectAs(
  id: string | null,
): Promise<{ authorized: boolean; reason: string; detail?: string }> {
  const info = id ? await showIdentity(stateDir, id) : null;
  const credentials = info
    ? { cert: await readFile(info.paths.chain), key: await readFile(info.paths.key) }
    : {};
  // A SHA-1 certificate is refused by the client's own OpenSSL before it is sent; the rogue lowers its own bar.
  const lowered = id === 'rogue-sha1' ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {};
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, servername: 'localhost', ca: rootCa, ...credentials, ...lowered },
      () => {
        const localPort = socket.localPort!;
        socket.on('close', () =>
          resolve(verdicts.get(localPort) ?? { authorized: false, reason: 'no verdict' }),
        );
      },
    );
    socket.on('error', (error) => resolve({ authorized: false, reason: error.message }));
    socket.setTimeout(10_000, () => reject(new Error('timeout')));
  });
}

describe('a TLS server with requestCert and our CA + CRLs', () => {
  it.each(['sensor-ec', 'sensor-rsa', 'dashboard'])('accepts %s', async (id) => {
    expect(await connectAs(id)).toEqual({ authorized: true, reason: 'OK' });
  });

  it.each([
    ['rogue-self-signed', 'SELF_SIGNED'],
    ['rogue-foreign-ca', 'UNKNOWN_CA'],
    ['rogue-impostor-ca', 'UNKNOWN_CA'],
    ['rogue-expired', 'EXPIRED'],
    ['rogue-not-yet-valid', 'NOT_YET_VALID'],
    ['rogue-revoked', 'REVOKED'],
    ['rogue-wrong-usage', 'WRONG_KEY_USAGE'],
    ['rogue-sha1', 'WEAK_SIGNATURE'],
  ])('refuses %s: %s', async (id, reason) => {
    expect(await connectAs(id)).toMatchObject({ authorized: false, reason });
  });

  it('names what is wrong in the detail: an impostor CA, a foreign CA, a SHA-1 signature', async () => {
    expect((await connectAs('rogue-impostor-ca')).detail).toMatch(
      /^the issuer's name matches ours but its key does not: a CA that copies "O=certfleet, CN=certfleet Root CA"/,
    );
    expect((await connectAs('rogue-foreign-ca')).detail).toMatch(
      /^issued by "O=Elsewhere Ltd, CN=Foreign Root CA", which is not our CA/,
    );
    expect((await connectAs('rogue-sha1')).detail).toMatch(/^the certificate is signed with ecdsa-with-SHA1/);
  });

  it('refuses a client without a certificate: NO_CERTIFICATE', async () => {
    expect(await connectAs(null)).toMatchObject({ authorized: false, reason: 'NO_CERTIFICATE' });
  });

  it('wrong-key cannot even be loaded by a TLS client: it cannot prove possession of the key', () => {
    return expect(connectAs('rogue-wrong-key')).rejects.toThrow(/key values mismatch/);
  });

  it('unknown-cn passes TLS: its chain is valid, only the policy can refuse it', async () => {
    expect((await connectAs('rogue-unknown-cn')).authorized).toBe(true);
  });
});
