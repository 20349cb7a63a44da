/**
 * One TLS record and one write(2) per turn of the event loop for a client, instead of one per MQTT packet.
 *
 * aedes sends each delivery from its own `setImmediate`, and mqtt-packet corks the socket only until the next tick,
 * so every PUBLISH (and every PUBACK to a publisher) leaves as its own TLS record: its own encryption call, its own
 * record header and MAC, its own system call — and how many packets happen to share a record depended on timing
 * (the run-to-run spread of the QoS 1 figures). Here the first write of a turn corks the socket and an immediate
 * uncorks it once the packets queued in this turn are written: they leave together, in order.
 * What a client waits for grows by at most one turn of the loop; backpressure is unchanged (`write()` still returns
 * false past the high-water mark, and corked bytes count in `writableLength`, which the slow-consumer cut reads).
 */

interface Corkable {
  write(...args: never[]): boolean;
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

export function coalesceWrites(socket: Corkable): void {
  const write = socket.write;
  let corked = false;
  const release = () => {
    corked = false;
    if (!socket.destroyed) socket.uncork();
  };
  socket.write = function coalescedWrite(this: Corkable, ...args: never[]): boolean {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(release);
    }
    return Reflect.apply(write, this, args) as boolean;
  };
}
