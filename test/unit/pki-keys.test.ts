import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateP256Sync } from '../../pki/keys.ts';

describe('P-256 keys encoded by hand', () => {
  it('are byte for byte what OpenSSL encodes, and the halves belong together', () => {
    for (let i = 0; i < 50; i++) {
      const pair = generateP256Sync();
      const privateKey = createPrivateKey(pair.privateKeyPem);
      expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(privateKey.export({ type: 'pkcs8', format: 'pem' })).toBe(pair.privateKeyPem);
      const publicKey = createPublicKey(privateKey);
      expect(publicKey.export({ type: 'spki', format: 'der' }).equals(pair.spkiDer)).toBe(true);
      const signature = sign('sha256', Buffer.from('hello'), privateKey);
      expect(
        verify(
          'sha256',
          Buffer.from('hello'),
          createPublicKey({ key: pair.spkiDer, format: 'der', type: 'spki' }),
          signature,
        ),
      ).toBe(true);
    }
  });
});
