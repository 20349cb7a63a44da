import mqttPacket from 'mqtt-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameScanner } from '../../broker/packet-size-guard.ts';
import { handshakeErrorReason } from '../../broker/tls-refusal.ts';

const publish = (size: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 't',
    payload: Buffer.alloc(size),
    qos: 0,
    retain: false,
    dup: false,
  });

describe('packet size guard', () => {
  it('follows packet boundaries across arbitrary chunking and flags only the oversized packet', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (sizes, cuts) => {
          const packets = sizes.map(publish);
          const stream = Buffer.concat([mqttPacket.generate({ cmd: 'pingreq' }), ...packets]);
          const limit = 2000;
          const firstTooBig = packets.findIndex((p) => p.length > limit);
          const scanner = new FrameScanner(limit);
          let verdict: string | null = null;
          let offset = 0;
          for (let i = 0; offset < stream.length && verdict === null; i++) {
            const size = cuts[i % cuts.length]!;
            verdict = scanner.feed(stream.subarray(offset, offset + size));
            offset += size;
          }
          if (firstTooBig < 0) expect(verdict).toBeNull();
          else
            expect(verdict).toBe(
              `packet of ${packets[firstTooBig]!.length} bytes exceeds the limit of ${limit}`,
            );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('flags an oversized packet from its header alone, before the body arrives', () => {
    const header = publish(1_000_000).subarray(0, 5);
    expect(new FrameScanner(1024).feed(header)).toMatch(/exceeds the limit of 1024/);
  });

  it('refuses a malformed remaining length', () => {
    expect(new FrameScanner(1024).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toBe(
      'malformed remaining length',
    );
  });
});

describe('handshake errors', () => {
  it.each([
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'PROTOCOL_ERROR'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'TIMEOUT'],
    ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'NO_CERTIFICATE'],
    ['ERR_SSL_BAD_SIGNATURE', 'KEY_MISMATCH'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'SERVER_UNTRUSTED'],
    ['ECONNRESET', 'CLIENT_CLOSED'],
  ])('%s → %s', (code, reason) => {
    expect(handshakeErrorReason(Object.assign(new Error(code), { code }))).toBe(reason);
  });
});
