import { describe, expect, it } from 'vitest';
import { buildCertificate } from '../../pki/certificate-builder.ts';
import { fromDer, toDer, type Asn1 } from '../../pki/der.ts';
import { generateEncodedKeys, generateKeys } from '../../pki/keys.ts';
import { createLeafTemplate } from '../../pki/leaf-template.ts';

function tbsOf(der: Buffer): Buffer {
  return toDer((fromDer(der).value as Asn1[])[0]!);
}

describe('leaf template', () => {
  it.each(['ec', 'rsa'] as const)(
    'lays out exactly the TBS a full forge build gives (%s leaf, server profile with SANs)',
    async (keyType) => {
      const caKeys = await generateKeys('ec');
      const issuer = { name: { commonName: 'Test CA' }, ...caKeys };
      const leaf = await generateEncodedKeys(keyType);
      const notBefore = new Date('2026-01-01T00:00:00Z');
      const notAfter = new Date('2027-01-01T00:00:00Z');
      const sans = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] };
      const full = await buildCertificate({
        subject: { commonName: 'sensor-001' },
        publicKey: leaf.spkiDer,
        issuer,
        profile: 'server',
        notBefore,
        notAfter,
        serialHex: '4A0102030405060708090A0B0C0D0E0F',
        subjectAltNames: sans,
      });
      const template = createLeafTemplate(
        { issuer, profile: 'server', subjectAltNames: sans },
        (await generateEncodedKeys(keyType)).spkiDer,
      );
      const fast = await template.build(
        'sensor-001',
        leaf.spkiDer,
        notBefore,
        notAfter,
        '4A0102030405060708090A0B0C0D0E0F',
      );
      expect(tbsOf(fast.der).toString('hex')).toBe(tbsOf(full.der).toString('hex'));
    },
  );
});
