/** What a node believes from Redis: CRL bundles of our own PKI verify; altered, partial or older ones do not. */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrlRejected, verifyCrlBundle } from '../../broker/cluster/crl-signature.ts';
import { parseRedisUrl } from '../../broker/cluster/redis-url.ts';
import { validateNodeId } from '../../broker/cluster/node-id.ts';
import { UserError } from '../../core/user-error.ts';
import { pkiLayout, revokeIdentity } from '../../pki/index.ts';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';

let pki: PkiFixture;
let issuers: X509Certificate[];
let before: string;
let after: string;

const blocks = (pem: string) => pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n?/g) ?? [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001'] });
  const layout = pkiLayout(pki.stateDir);
  const caPem = await readFile(layout.caBundle, 'utf8');
  issuers = (caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem),
  );
  before = await readFile(layout.crlBundle, 'utf8');
  await revokeIdentity(pki.stateDir, 'sensor-001');
  after = await readFile(layout.crlBundle, 'utf8');
});
afterAll(() => pki.cleanup());

describe('CRL bundles from Redis', () => {
  it('our own bundle verifies: one CRL per CA (RSA root, EC issuing), numbers read', () => {
    const verified = verifyCrlBundle(after, issuers, []);
    expect(verified).toHaveLength(2);
    expect(new Set(verified.map((c) => c.issuer))).toEqual(new Set(issuers.map((ca) => ca.subject)));
    const old = verifyCrlBundle(before, issuers, []);
    const issuing = (list: typeof old) => list.find((c) => c.issuer === issuers[1]!.subject)!;
    expect(issuing(verified).crlNumber).toBeGreaterThan(issuing(old).crlNumber);
  });

  it('one changed bit in a signed CRL is refused', () => {
    for (const [index, block] of blocks(after).entries()) {
      const der = Buffer.from(block.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64');
      der[der.length - 5]! ^= 0x01; // inside the signature
      const pem = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
      const others = blocks(after).filter((_, i) => i !== index);
      expect(() => verifyCrlBundle([pem, ...others].join(''), issuers, [])).toThrow(/no CA of ours signed/);
    }
  });

  it('a bundle without the CRL of one CA is refused (OpenSSL would then refuse every device)', () => {
    expect(() => verifyCrlBundle(blocks(after)[0]!, issuers, [])).toThrow(CrlRejected);
  });

  it('an older bundle than the applied one is refused (no un-revoking by replay)', () => {
    const applied = verifyCrlBundle(after, issuers, []);
    expect(() => verifyCrlBundle(before, issuers, applied)).toThrow(/older than the applied/);
    expect(verifyCrlBundle(after, issuers, applied)).toHaveLength(2);
  });

  it('garbage and an empty bundle are refused, never thrown as anything else', () => {
    expect(() => verifyCrlBundle('', issuers, [])).toThrow(CrlRejected);
    const junk = '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n';
    expect(() => verifyCrlBundle(junk, issuers, [])).toThrow(CrlRejected);
  });
});

describe('--redis and --node-id', () => {
  it('reads host, port, db and credentials, and never shows the password', () => {
    const target = parseRedisUrl('redis://user:s3cret@10.0.0.5:6380/2');
    expect(target.options).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      db: 2,
      username: 'user',
      password: 's3cret',
    });
    expect(target.display).toBe('redis://10.0.0.5:6380/2');
    expect(parseRedisUrl('redis://127.0.0.1').options.port).toBe(6379);
  });

  it.each(['http://127.0.0.1:6379', 'not a url', 'redis://127.0.0.1:6379/x'])('refuses %s', (url) => {
    expect(() => parseRedisUrl(url)).toThrow(UserError);
  });

  it('node ids are key- and log-safe names', () => {
    expect(validateNodeId('broker-a.1')).toBe('broker-a.1');
    for (const bad of ['', '-a', 'a b', 'a:b', 'x'.repeat(65)])
      expect(() => validateNodeId(bad)).toThrow(UserError);
  });
});
