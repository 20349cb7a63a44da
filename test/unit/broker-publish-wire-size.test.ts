import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { publishWireSize } from '../../broker/mqtt5-outbound.ts';

/** The packet exactly as mqtt-packet writes it to a v5 client: the reference the size must equal. */
function encodedLength(packet: Parameters<typeof publishWireSize>[0]): number {
  return mqttPacket.generate(
    { ...packet, ...(packet.qos > 0 && { messageId: 65_535 }) },
    { protocolVersion: 5 },
  ).length;
}

describe('publishWireSize (Maximum Packet Size check, counted without encoding when it can)', () => {
  const topics = ['t', 'plant/α/line-7/temperature', 'x'.repeat(300)];
  // payload sizes around each boundary of the remaining-length integer (127/128, 16,383/16,384)
  const payloadSizes = [0, 1, 100, 120, 124, 125, 126, 127, 128, 16_370, 16_377, 16_380, 16_384, 70_000];
  const propertySets = [
    undefined,
    {},
    { topicAlias: undefined },
    { contentType: 'application/json', userProperties: { site: 'b7' } },
    { messageExpiryInterval: 60, subscriptionIdentifier: [1, 300] },
  ];

  it('equals the encoded length for every mix of topic, payload, QoS and properties', () => {
    let checked = 0;
    for (const topic of topics) {
      for (const size of payloadSizes) {
        for (const qos of [0, 1, 2] as const) {
          for (const properties of propertySets) {
            const packet = {
              cmd: 'publish' as const,
              topic,
              payload: Buffer.alloc(size, 0x61),
              qos,
              retain: false,
              dup: false,
              ...(properties && { properties }),
            };
            expect(
              publishWireSize(packet),
              `${topic.length}/${size}/${qos}/${JSON.stringify(properties)}`,
            ).toBe(encodedLength(packet));
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(topics.length * payloadSizes.length * 3 * propertySets.length);
  });

  it('counts a string payload in UTF-8 bytes', () => {
    const packet = {
      cmd: 'publish' as const,
      topic: 'a/b',
      payload: 'ünïcödé',
      qos: 1 as const,
      retain: false,
      dup: false,
    };
    expect(publishWireSize(packet)).toBe(encodedLength(packet));
  });
});
