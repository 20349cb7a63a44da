/**
 * Slow consumers: a subscriber that stops reading while large messages flow to it. The broker must cut it
 * (SLOW_CONSUMER, audited), stay alive with bounded memory, and keep serving a well-behaved device.
 */
import type { AuditRecord } from '../../broker/audit-record.ts';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { makePki, type PkiFixture } from '../helpers/broker-fixture.ts';
import {
  type Cleanups,
  connectedPeer,
  happensWithin,
  report,
  runAll,
  sleep,
  startChildBroker,
  startProbe,
} from '../helpers/fault-broker.ts';

let pki: PkiFixture;
const cleanups: Cleanups = [];
beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002', 'sensor-003'] });
}, 60_000);
afterAll(() => pki?.cleanup());
afterEach(() => runAll(cleanups));

/** Outbound buffer limit used here: small, so the test offers megabytes, not a gigabyte. */
const OUTBOUND_LIMIT = 1024 * 1024;

const scenarios = [
  { name: 'dashboard on devices/+/# stops reading, 1 KiB telemetry', kib: 1, variant: 'telemetry' },
  { name: 'dashboard on devices/+/# stops reading, 16 KiB telemetry', kib: 16, variant: 'telemetry' },
  { name: 'dashboard on devices/+/# stops reading, 64 KiB telemetry', kib: 64, variant: 'telemetry' },
  { name: 'device never reads its 64 KiB commands', kib: 64, variant: 'commands' },
] as const;

it.each(scenarios)(
  '$name: cut as SLOW_CONSUMER, broker alive, others served',
  async ({ name, kib, variant }) => {
    const broker = await startChildBroker(
      pki.stateDir,
      ['--quiet', '--max-outbound-buffer', String(OUTBOUND_LIMIT)],
      cleanups,
    );
    const idleRss = broker.rssMb();
    const probe = await startProbe(broker.port, pki.stateDir, 'sensor-002', cleanups);

    // The offender subscribes and then never reads again; the source floods what it is subscribed to.
    const offenderId = variant === 'telemetry' ? 'dashboard' : 'sensor-003';
    const sourceId = variant === 'telemetry' ? 'sensor-001' : 'dashboard';
    const offender = await connectedPeer(broker.port, pki.stateDir, offenderId, cleanups);
    const filter = variant === 'telemetry' ? 'devices/+/#' : 'devices/sensor-003/commands/#';
    offender.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] });
    expect(await offender.next('suback')).toMatchObject({ granted: [0] });
    offender.socket.pause();
    const source = await connectedPeer(broker.port, pki.stateDir, sourceId, cleanups);
    const topic = variant === 'telemetry' ? 'devices/sensor-001/telemetry' : 'devices/sensor-003/commands/x';
    const payload = Buffer.alloc(kib * 1024, 0x61);

    // Offer up to 256 MB (bounded in bytes; the time cap only ends a broker that never cuts it) until the
    // offender's cut is in the audit.
    let offered = 0;
    let peakRss = idleRss;
    let cut: AuditRecord | undefined;
    const isCut = (r: AuditRecord) =>
      r.event === 'disconnected' && r.cn === offenderId && r.reason === 'SLOW_CONSUMER';
    let nextCheck = 0;
    let rounds = 0;
    const deadline = Date.now() + 40_000;
    while (!cut && offered < 256 * 1024 * 1024 && Date.now() < deadline && broker.alive()) {
      for (let i = 0; i < 256 / kib; i++) {
        source.send({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
        offered += payload.length;
      }
      if (source.socket.writableLength > 1024 * 1024) {
        await new Promise((resolve) => source.socket.once('drain', resolve));
      }
      // Each round the well-behaved device publishes (on a topic the dashboard offender is subscribed to, in the
      // telemetry cases) and the flood goes on only once that is acknowledged: so in the last rounds before the cut,
      // while the offender's unread deliveries pile up in the broker, the device is served too. A broker that held
      // deliveries behind the stalled reader stops here (the cap is only "never", not a latency bound).
      const acked = probe.client.publishAsync('devices/sensor-002/telemetry', `{"round":${rounds}}`, {
        qos: 1,
      });
      expect(
        await happensWithin(acked, 20_000),
        `round ${rounds}: the device's publish was not acknowledged`,
      ).toBe(true);
      rounds++;
      if (Date.now() > nextCheck) {
        nextCheck = Date.now() + 200;
        peakRss = Math.max(peakRss, broker.rssMb());
        cut = (await broker.audit()).find(isCut);
      }
      await sleep(0);
    }
    // Keep the flood's aftermath in view for a moment: the broker must survive the cut, not only the flood.
    await sleep(500);
    peakRss = Math.max(peakRss, broker.rssMb());
    offender.socket.resume(); // read again: the close the broker sent is behind the unread data
    const stats = await probe.stop();
    cut ??= (await broker.audit()).find(isCut);
    report(`slow-consumer ${name}`, {
      offeredMB: Math.round(offered / 1e5) / 10,
      rounds,
      cut: Boolean(cut),
      alive: broker.alive(),
      idleRssMB: idleRss,
      peakRssMB: peakRss,
      probe: stats,
    });
    expect(broker.alive(), `broker died: ${broker.stderr()}`).toBe(true);
    expect(broker.stderr()).not.toMatch(/RangeError|Maximum call stack/);
    expect(cut?.detail).toMatch(/outbound buffer/);
    await happensWithin(offender.closed, 20_000);
    expect(offender.isClosed()).toBe(true);
    expect(source.isClosed()).toBe(false); // the publisher did nothing wrong
    expect(peakRss).toBeLessThan(Math.max(2 * idleRss, idleRss + 100));
    // The well-behaved device was served all along: acknowledged in every round of the flood (above) and every one
    // of its timed publishes too. Its latencies are reported, not asserted: under load they measure the machine.
    expect(rounds).toBeGreaterThan(0);
    expect(stats.acked).toBe(stats.sent);
    // And the broker still takes new connections after the cut.
    await new Promise<void>((resolve) => probe.client.end(true, {}, () => resolve()));
    const after = await startProbe(broker.port, pki.stateDir, 'sensor-002', cleanups);
    expect(after.client.connected).toBe(true);
  },
  90_000,
);
