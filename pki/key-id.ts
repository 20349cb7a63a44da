import { createHash } from 'node:crypto';
import { subjectPublicKeyBits } from './der-bytes.ts';

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdentifierOfSpkiBytes(spki: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}
