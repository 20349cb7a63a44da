/** The load generators' hand-made MQTT packets, checked against mqtt-packet (the parser aedes itself uses). */
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import {
  connectPacket,
  DISCONNECT,
  type Packet,
  PacketReader,
  PacketType,
  PublishTemplate,
  parsePublish,
  pubackPacket,
  subscribePacket,
} from '../../bench/loadgen/mqtt-wire.ts';

function parseWithMqttPacket(buffer: Buffer): Record<string, unknown>[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Record<string, unknown>[] = [];
  parser.on('packet', (packet) => packets.push(packet as unknown as Record<string, unknown>));
  parser.on('error', (error) => {
    throw error;
  });
  parser.parse(buffer);
  return packets;
}

describe('encoders', () => {
  it('CONNECT: MQTT 3.1.1, clean session, the client id and keepalive', () => {
    const [packet] = parseWithMqttPacket(connectPacket('sensor-ec-0001', 60));
    expect(packet).toMatchObject({
      cmd: 'connect',
      protocolVersion: 4,
      clean: true,
      clientId: 'sensor-ec-0001',
      keepalive: 60,
    });
  });

  it('SUBSCRIBE, PUBACK and DISCONNECT', () => {
    const packets = parseWithMqttPacket(
      Buffer.concat([subscribePacket(7, 'devices/+/telemetry', 1), pubackPacket(513), DISCONNECT]),
    );
    expect(packets[0]).toMatchObject({
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: [{ topic: 'devices/+/telemetry', qos: 1 }],
    });
    expect(packets[1]).toMatchObject({ cmd: 'puback', messageId: 513 });
    expect(packets[2]).toMatchObject({ cmd: 'disconnect' });
  });

  it('PUBLISH QoS 0 and 1 with a 128-byte payload stamped in place', () => {
    for (const qos of [0, 1] as const) {
      const template = new PublishTemplate('devices/sensor-ec-0001/telemetry', 128, qos);
      const buffer = template.make(4242, (payload) => payload.writeUInt32LE(99, 8));
      const [packet] = parseWithMqttPacket(buffer);
      expect(packet).toMatchObject({ cmd: 'publish', qos, topic: 'devices/sensor-ec-0001/telemetry' });
      expect((packet!.payload as Buffer).length).toBe(128);
      expect((packet!.payload as Buffer).readUInt32LE(8)).toBe(99);
      if (qos === 1) expect(packet!.messageId).toBe(4242);
    }
  });
});

describe('PacketReader', () => {
  it('reassembles packets split across chunks at every byte, and parsePublish reads them back', () => {
    const one = new PublishTemplate('a/b', 200, 1).make(3, (payload) => payload.writeDoubleLE(1.5, 0)); // 2-byte length
    const stream = Buffer.concat([one, Buffer.from([0x20, 2, 0, 0]), one]);
    for (let cut = 1; cut < stream.length; cut++) {
      const packets: Packet[] = [];
      const reader = new PacketReader((packet) =>
        packets.push({ ...packet, body: Buffer.from(packet.body) }),
      );
      reader.push(stream.subarray(0, cut));
      reader.push(stream.subarray(cut));
      expect(packets.map((p) => p.type)).toEqual([
        PacketType.PUBLISH,
        PacketType.CONNACK,
        PacketType.PUBLISH,
      ]);
      const publish = parsePublish(packets[2]!);
      expect(publish).toMatchObject({ topic: 'a/b', packetId: 3 });
      expect(publish.payload.readDoubleLE(0)).toBe(1.5);
    }
  });
});
