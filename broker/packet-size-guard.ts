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

/** The socket's own `read`, its scanner and what to call on a violation: one record per guarded socket. */
const guardOf = Symbol('certfleet.packetSizeGuard');

interface PacketSizeGuard {
  readonly read: (size?: number) => unknown;
  readonly scanner: FrameScanner;
  readonly onViolation: (detail: string, socket: object) => void;
  violated: boolean;
}

interface Guarded {
  read(size?: number): unknown;
  [guardOf]: PacketSizeGuard;
}

// Shared by every guarded socket (no closure per connection: each held connection would carry it).
function guardedRead(this: Guarded, size?: number): unknown {
  const guard = this[guardOf];
  if (guard.violated) return null;
  const data = Reflect.apply(guard.read, this, [size]);
  if (data instanceof Uint8Array) {
    const problem = guard.scanner.feed(data);
    if (problem) {
      guard.violated = true;
      guard.onViolation(problem, this);
      return null;
    }
  }
  return data;
}

/**
 * Puts a scanner in front of whatever reads the socket with `read()` (aedes does): an oversized packet calls
 * `onViolation` (with the socket, so that one function serves every socket) and the read returns nothing, so the
 * packet never reaches the parser.
 */
export function guardPacketSize<S extends { read(size?: number): unknown }>(
  socket: S,
  maxPacketSize: number,
  onViolation: (detail: string, socket: S) => void,
): void {
  const guarded = socket as unknown as Guarded;
  guarded[guardOf] = {
    read: socket.read,
    scanner: new FrameScanner(maxPacketSize),
    onViolation: onViolation as PacketSizeGuard['onViolation'],
    violated: false,
  };
  guarded.read = guardedRead;
}
