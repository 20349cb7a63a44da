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
 *
 * Memory: every held connection carries this, so it costs one property and one flag per socket, no closures. The
 * write function and the uncork are shared by all sockets (a closure per socket, as tsx compiles it, went with a
 * property dictionary of its own: ~0.7 KiB per connection, BENCHMARKS.md "Memory per connection").
 */

interface Corkable {
  write(...args: never[]): boolean;
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

/** The socket's own `write` (its prototype's, unless something replaced it before us). */
const originalWrite = Symbol('certfleet.originalWrite');
/** Corked by the first write of this turn; the immediate that uncorks it is pending. */
const corkedThisTurn = Symbol('certfleet.corkedThisTurn');

interface Coalesced extends Corkable {
  [originalWrite]: (...args: never[]) => boolean;
  [corkedThisTurn]: boolean;
}

function release(socket: Coalesced): void {
  socket[corkedThisTurn] = false;
  if (!socket.destroyed) socket.uncork();
}

function coalescedWrite(this: Coalesced, ...args: never[]): boolean {
  if (!this[corkedThisTurn] && !this.destroyed) {
    this[corkedThisTurn] = true;
    this.cork();
    setImmediate(release, this);
  }
  return Reflect.apply(this[originalWrite], this, args) as boolean;
}

export function coalesceWrites(socket: Corkable): void {
  const coalesced = socket as Coalesced;
  coalesced[originalWrite] = socket.write;
  coalesced[corkedThisTurn] = false;
  coalesced.write = coalescedWrite;
}
