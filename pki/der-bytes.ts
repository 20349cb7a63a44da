import { randomBytes } from 'node:crypto';

/**
 * DER encoding straight into Buffers, without node-forge: what one leaf certificate needs per leaf (a bulk issue
 * makes thousands, and leaf worker threads load only this and node:crypto). The structure of a certificate is still
 * laid out by forge once per batch (leaf-template.ts).
 */

/** Encodes already-encoded DER children under one tag (0x30 SEQUENCE, 0xa3 [3] EXPLICIT…), definite length. */
export function wrapDer(tag: number, children: Buffer[]): Buffer {
  const length = children.reduce((sum, child) => sum + child.length, 0);
  const lengthBytes: number[] = [];
  if (length < 0x80) lengthBytes.push(length);
  else {
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest & 0xff);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  return Buffer.concat([Buffer.from([tag, ...lengthBytes]), ...children]);
}

export function derToPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A random positive 128-bit serial (RFC 5280 4.1.2.2: ≤ 20 octets, positive): the top bits fixed to 01. */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex').toUpperCase();
}

/** INTEGER from hex digits, the bytes as given (as forge's hexToBytes would: callers pass positive serials). */
export function derIntegerFromHex(hex: string): Buffer {
  return wrapDer(0x02, [Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')]);
}

const two = (n: number) => String(n).padStart(2, '0');

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on (seconds, 'Z'). */
export function derTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050
    ? wrapDer(0x17, [Buffer.from(`${two(year % 100)}${rest}`, 'latin1')])
    : wrapDer(0x18, [Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1')]);
}

/** OID 2.5.4.3 (commonName), encoded. */
const COMMON_NAME_OID = Buffer.from('0603550403', 'hex');

/** Name ::= SEQUENCE { SET { SEQUENCE { commonName, UTF8String } } } — a leaf's subject. */
export function derCommonNameSubject(commonName: string): Buffer {
  const value = wrapDer(0x0c, [Buffer.from(commonName, 'utf8')]);
  return wrapDer(0x30, [wrapDer(0x31, [wrapDer(0x30, [COMMON_NAME_OID, value])])]);
}

/** Header length and content length of the DER element at `offset`. */
function readHeader(der: Buffer, offset: number): { header: number; length: number } {
  const first = der[offset + 1]!;
  if (first < 0x80) return { header: 2, length: first };
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
  return { header: 2 + count, length };
}

/** The bytes of a SubjectPublicKeyInfo's subjectPublicKey BIT STRING, without its unused-bits octet. */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const outer = readHeader(spki, 0);
  const algorithmAt = outer.header;
  const algorithm = readHeader(spki, algorithmAt);
  const bitsAt = algorithmAt + algorithm.header + algorithm.length;
  if (spki[bitsAt] !== 0x03) throw new Error('not a SubjectPublicKeyInfo');
  const bits = readHeader(spki, bitsAt);
  return spki.subarray(bitsAt + bits.header + 1, bitsAt + bits.header + bits.length);
}
