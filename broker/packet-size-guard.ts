/**
 * MQTT frame scanner: follows packet boundaries (fixed header byte + Remaining Length varint, MQTT 3.1.1 §2.2.3)
 * without buffering, and reports the first packet that declares more than the limit — before its body is read,
 * so a client cannot make the broker buffer a 256 MB packet. Aedes' parser has no such limit.
 */
export class FrameScanner {
  private skip = 0; // body bytes of the current packet still to pass
  private lengthBytes = -1; // -1: expecting a fixed header byte; ≥0: varint bytes read so far
  private length = 0;
  private multiplier = 1;

  constructor(private readonly maxPacketSize: number) {}

  /** Returns a description of the violation, or null while every packet is within the limit. */
  feed(chunk: Uint8Array): string | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.lengthBytes < 0) {
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) return 'malformed remaining length';
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > this.maxPacketSize)
        return `packet of ${total} bytes exceeds the limit of ${this.maxPacketSize}`;
      this.skip = this.length;
      this.lengthBytes = -1;
    }
    return null;
  }
}

/**
 * Puts a scanner in front of whatever reads the socket with `read()` (aedes does): an oversized packet calls
 * `onViolation` and the read returns nothing, so the packet never reaches the parser.
 */
export function guardPacketSize(
  socket: { read(size?: number): unknown },
  maxPacketSize: number,
  onViolation: (detail: string) => void,
): void {
  const scanner = new FrameScanner(maxPacketSize);
  const read = socket.read.bind(socket);
  let violated = false;
  socket.read = (size?: number) => {
    if (violated) return null;
    const data = read(size);
    if (data instanceof Uint8Array) {
      const problem = scanner.feed(data);
      if (problem) {
        violated = true;
        onViolation(problem);
        return null;
      }
    }
    return data;
  };
}
