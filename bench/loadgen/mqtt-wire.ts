/**
 * The few MQTT 3.1.1 packets the load generators need, encoded by hand: a general client library would spend more
 * CPU per message than the broker under test, and the load generator must never be the bottleneck it measures.
 */

function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

function utf8String(value: string): Buffer {
  const body = Buffer.from(value, 'utf8');
  const header = Buffer.alloc(2);
  header.writeUInt16BE(body.length);
  return Buffer.concat([header, body]);
}

function packet(firstByte: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export function connectPacket(clientId: string, keepaliveSeconds = 60): Buffer {
  const variable = Buffer.from([
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    4,
    0x02,
    keepaliveSeconds >> 8,
    keepaliveSeconds & 0xff,
  ]);
  return packet(0x10, variable, utf8String(clientId)); // [MQTT-3.1.2-2] level 4, clean session
}

/** CONNECT (3.1.1, clean session) with a retained QoS 1 last will, as a device sends it. */
export function willConnectPacket(
  clientId: string,
  keepaliveSeconds: number,
  will: { topic: string; payload: string },
): Buffer {
  // flags: clean session 0x02, will 0x04, will QoS 1 0x08, will retain 0x20
  const variable = Buffer.from([
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    4,
    0x2e,
    keepaliveSeconds >> 8,
    keepaliveSeconds & 0xff,
  ]);
  return packet(0x10, variable, utf8String(clientId), utf8String(will.topic), utf8String(will.payload));
}

/** One PUBLISH built at once (not the hot loop's template). */
export function publishPacket(
  topic: string,
  payload: string,
  options: { qos: 0 | 1; retain: boolean; packetId: number },
): Buffer {
  const id =
    options.qos > 0 ? Buffer.from([options.packetId >> 8, options.packetId & 0xff]) : Buffer.alloc(0);
  const first = 0x30 | (options.qos << 1) | (options.retain ? 1 : 0);
  return packet(first, utf8String(topic), id, Buffer.from(payload, 'utf8'));
}

export function subscribePacket(packetId: number, filter: string, qos: 0 | 1): Buffer {
  return packet(0x82, Buffer.from([packetId >> 8, packetId & 0xff]), utf8String(filter), Buffer.from([qos]));
}

/** A PUBLISH whose packet id (QoS 1) and payload are patched in place by `writePublish`, so a hot loop allocates nothing per message besides the copy. */
export class PublishTemplate {
  readonly buffer: Buffer;
  private readonly packetIdOffset: number;
  readonly payloadOffset: number;

  constructor(
    topic: string,
    payloadSize: number,
    readonly qos: 0 | 1,
  ) {
    const topicBytes = utf8String(topic);
    const idBytes = qos > 0 ? 2 : 0;
    this.buffer = packet(0x30 | (qos << 1), topicBytes, Buffer.alloc(idBytes), Buffer.alloc(payloadSize));
    this.payloadOffset = this.buffer.length - payloadSize;
    this.packetIdOffset = this.payloadOffset - idBytes;
  }

  /** A fresh copy with the packet id and the first bytes of the payload set. */
  make(packetId: number, stamp: (payload: Buffer) => void): Buffer {
    const copy = Buffer.from(this.buffer);
    if (this.qos > 0) copy.writeUInt16BE(packetId, this.packetIdOffset);
    stamp(copy.subarray(this.payloadOffset));
    return copy;
  }
}

export function pubackPacket(packetId: number): Buffer {
  return Buffer.from([0x40, 2, packetId >> 8, packetId & 0xff]);
}

export const DISCONNECT = Buffer.from([0xe0, 0]);
export const PINGREQ = Buffer.from([0xc0, 0]);

export const PacketType = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, SUBACK: 9, PINGRESP: 13 } as const;

export interface Packet {
  type: number;
  flags: number;
  body: Buffer;
}

/** A streaming splitter: feed it socket chunks, get whole packets. */
export class PacketReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onPacket: (packet: Packet) => void) {}

  push(chunk: Buffer): void {
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      if (buffer.length - offset < 2) break;
      let length = 0;
      let multiplier = 1;
      let cursor = offset + 1;
      let complete = false;
      while (cursor < buffer.length && cursor <= offset + 4) {
        const byte = buffer[cursor++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || buffer.length - cursor < length) break;
      const first = buffer[offset]!;
      this.onPacket({
        type: first >> 4,
        flags: first & 0x0f,
        body: buffer.subarray(cursor, cursor + length),
      });
      offset = cursor + length;
    }
    buffer = buffer.subarray(offset);
    this.pending = buffer.length > 0 ? Buffer.from(buffer) : Buffer.alloc(0);
  }
}

/** Topic, packet id (QoS > 0) and payload of a PUBLISH body. */
export function parsePublish(packet: Packet): { topic: string; packetId: number; payload: Buffer } {
  const topicLength = packet.body.readUInt16BE(0);
  const topic = packet.body.toString('utf8', 2, 2 + topicLength);
  const qos = (packet.flags >> 1) & 0x03;
  const idOffset = 2 + topicLength;
  const packetId = qos > 0 ? packet.body.readUInt16BE(idOffset) : 0;
  return { topic, packetId, payload: packet.body.subarray(idOffset + (qos > 0 ? 2 : 0)) };
}
