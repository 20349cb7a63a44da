/**
 * The loop-lag sampler runs only while handshakes are in flight: an idle broker's event loop is not woken 20 times a
 * second. It stops itself after a window of ticks with nothing in flight, restarts on the next handshake from a clean
 * window, and still sees a blocked loop while it runs. The admission part uses a real TCP server and real sockets.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { admitConnections } from '../../broker/admission.ts';
import { type LoopLag, watchLoopLag } from '../../broker/loop-lag.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const action of cleanups.splice(0).reverse()) await action();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Keeps the event loop busy for `ms` (what a burst of CPU-bound handshakes does to it). */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

describe('watchLoopLag', () => {
  it('sleeps until woken, stops after a window with nothing in flight, and restarts on the next wake', async () => {
    let inFlight = false;
    let ticks = 0;
    const lag = watchLoopLag({
      tickMs: 20,
      windowTicks: 5,
      active: () => {
        ticks++;
        return inFlight;
      },
    });
    cleanups.push(() => lag.stop());
    await sleep(100);
    expect({ sampling: lag.sampling(), ticks, lag: lag.now() }).toEqual({
      sampling: false,
      ticks: 0,
      lag: 0,
    });

    inFlight = true;
    lag.wake();
    expect(lag.sampling()).toBe(true);
    await until(() => ticks >= 3, 'three ticks');
    blockLoop(300);
    // In the middle of a long turn, and on the tick after it: the loop was ~300 ms behind.
    expect(lag.now()).toBeGreaterThanOrEqual(250);
    await until(() => ticks >= 5, 'the tick after the block');
    expect(lag.now()).toBeGreaterThanOrEqual(250);

    inFlight = false;
    await until(() => !lag.sampling(), 'the sampler to stop once idle');
    const ticksWhenStopped = ticks;
    expect(lag.now()).toBe(0);
    await sleep(200);
    expect(ticks).toBe(ticksWhenStopped); // idle: not one more wake-up

    inFlight = true;
    lag.wake();
    expect(lag.sampling()).toBe(true);
    expect(lag.now()).toBe(0); // a clean window: the block before the stop is forgotten
    await until(() => ticks > ticksWhenStopped, 'a tick after the restart');

    lag.stop();
    lag.wake();
    expect(lag.sampling()).toBe(false); // stopped for good (shutdown)
  });
});

describe('admission wakes the sampler', () => {
  it('only while a handshake is pending: a silent socket starts it, its close lets it stop, the next one restarts it', async () => {
    const server = net.createServer();
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    let lag: LoopLag | undefined;
    const admission = admitConnections(
      server,
      {
        handshakeTimeoutMs: 10_000,
        maxHandshakes: 100,
        maxHandshakesPerAddress: 100,
        connectionRatePerAddress: 100,
      },
      () => {},
      (active) => {
        lag = watchLoopLag({ tickMs: 20, windowTicks: 5, active });
        return lag;
      },
    );
    cleanups.push(() => admission.shutdown());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const connect = () => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      cleanups.push(() => socket.destroy());
      return socket;
    };
    expect(lag?.sampling()).toBe(false); // a broker nobody has connected to sleeps

    const first = connect();
    await until(() => admission.pending() === 1, 'the first handshake to be pending');
    expect(lag?.sampling()).toBe(true);
    await sleep(200); // well past a window: still pending, so still sampling
    expect(lag?.sampling()).toBe(true);

    first.destroy();
    await until(() => admission.pending() === 0, 'the slot to be released');
    await until(() => lag?.sampling() === false, 'the sampler to stop with nothing in flight');

    connect();
    await until(() => admission.pending() === 1, 'the second handshake to be pending');
    expect(lag?.sampling()).toBe(true);
  });
});
