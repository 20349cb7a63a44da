import { expect, it } from 'vitest';
import { escapeUntrusted, sanitizeRecord } from '../../broker/untrusted-text.ts';

it('escapes every control character a peer could use on a terminal', () => {
  expect(escapeUntrusted('a\nb\u001b[2J\u0007\u009b\u202etxt.exe', 100)).toBe(
    'a\\x0ab\\x1b[2J\\x07\\x9b\\u202etxt.exe',
  );
  expect(escapeUntrusted('sensor-001 clean retained', 100)).toBe('sensor-001 clean retained');
});

it('caps the length and says how much was cut', () => {
  expect(escapeUntrusted('x'.repeat(300), 256)).toBe(`${'x'.repeat(256)}…(44 more characters)`);
});

it('sanitizes every peer-chosen field of a record, and only those', () => {
  const record = sanitizeRecord({
    event: 'connect-refused',
    reason: 'CLIENT_ID_MISMATCH',
    clientId: 'id\nfake line',
    cn: 'cn\u001b',
    topic: 't\r',
    detail: 'client id "id\nfake line"',
    cert: {
      subject: 'CN=a\u0000',
      issuer: 'CN=b',
      serial: '01',
      fingerprint256: 'AA',
      validFrom: 'x',
      validTo: 'y',
    },
  });
  expect(JSON.stringify(record)).not.toMatch(/\\n|\\u001b|\\r|\\u0000/);
  expect(record).toMatchObject({
    clientId: 'id\\x0afake line',
    cn: 'cn\\x1b',
    topic: 't\\x0d',
    reason: 'CLIENT_ID_MISMATCH',
  });
  expect(record.cert?.subject).toBe('CN=a\\x00');
});
