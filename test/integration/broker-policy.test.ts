/** Identities and topic permissions on a live broker: spoofing, overreach, snooping, wills, $SYS. */
import type { MqttClient } from 'mqtt';
import type { IPubackPacket, Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_TOPIC, type AuditRecord } from '../../broker/audit-record.ts';
import {
  type BrokerFixture,
  connectAs,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
} from '../helpers/broker-fixture.ts';

let pki: PkiFixture;
let fixture: BrokerFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002', 'sensor-003', 'sensor-004'] });
  cleanups.push(() => pki.cleanup());
  fixture = await startTestBroker(pki.stateDir, {}, cleanups);
});
afterAll(() => runCleanups(cleanups));

async function connected(id: string, extra = {}): Promise<MqttClient> {
  const outcome = await connectAs(fixture.broker, pki.stateDir, id, extra, cleanups);
  if (!outcome.connected) throw new Error(`${id} did not connect: ${outcome.error?.message}`);
  return outcome.client;
}

function subscribe(client: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos: 0 }, (error, granted) => {
      // MQTT.js reports a SUBACK 0x80 as an error carrying the SUBACK packet
      const code = (error as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted?.[0];
      if (code !== undefined) return resolve(code);
      if (error) return reject(error);
      resolve(granted?.[0]?.qos ?? -1);
    });
  });
}

function nextMessage(client: MqttClient, topic: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolve(payload);
    };
    client.on('message', onMessage);
  });
}

describe('identity', () => {
  it('a clientId other than the CN is refused with CLIENT_ID_MISMATCH (CONNACK 5)', async () => {
    const outcome = await connectAs(
      fixture.broker,
      pki.stateDir,
      'sensor-001',
      { clientId: 'sensor-002' },
      cleanups,
    );
    expect(outcome.connected).toBe(false);
    expect(outcome.error?.code).toBe(5);
    const record = await fixture.waitFor((r) => r.event === 'connect-refused' && r.clientId === 'sensor-002');
    expect(record).toMatchObject({ reason: 'CLIENT_ID_MISMATCH', cn: 'sensor-001' });
  });

  it('a second connection with the same identity takes the session over, and the audit says so', async () => {
    const first = await connected('sensor-001');
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    await connected('sensor-001');
    await firstClosed;
    const end = await fixture.waitFor((r) => r.event === 'disconnected' && /taken over/.test(r.detail ?? ''));
    expect(end).toMatchObject({ cn: 'sensor-001', reason: 'SESSION_TAKEN_OVER' });
  });

  it('username and password change nothing', async () => {
    const client = await connected('sensor-004', { username: 'admin', password: 'admin' });
    expect(client.connected).toBe(true);
  });
});

describe('publish', () => {
  it('into its own topic is delivered; into another device topic → PUBLISH_DENIED and disconnected', async () => {
    const dashboard = await connected('dashboard');
    expect(await subscribe(dashboard, 'devices/+/telemetry')).toBe(0);
    const device = await connected('sensor-001');
    const delivered = nextMessage(dashboard, 'devices/sensor-001/telemetry');
    device.publish('devices/sensor-001/telemetry', '21.5');
    expect((await delivered).toString()).toBe('21.5');

    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('devices/sensor-002/telemetry', 'forged');
    await closed;
    const denied = await fixture.waitFor((r) => r.event === 'publish-denied' && r.cn === 'sensor-001');
    expect(denied).toMatchObject({ reason: 'PUBLISH_DENIED', topic: 'devices/sensor-002/telemetry' });
    const end = await fixture.waitFor(
      (r) => r.event === 'disconnected' && r.connection === denied.connection,
    );
    expect(end.reason).toBe('PUBLISH_DENIED');
  });

  it('MQTT 5: into another device topic → PUBACK 0x87 with a reason string, and the device stays connected', async () => {
    const device = await connected('sensor-002', { protocolVersion: 5 });
    const acks: Packet[] = [];
    device.on('packetreceive', (packet) => acks.push(packet));
    const error = await new Promise<(Error & { code?: number }) | undefined>((resolve) =>
      device.publish('devices/sensor-001/telemetry', 'forged', { qos: 1 }, (e) => resolve(e ?? undefined)),
    );
    expect(error?.code).toBe(0x87);
    const puback = acks.find((p) => p.cmd === 'puback') as IPubackPacket | undefined;
    expect(puback?.reasonCode).toBe(0x87);
    expect(puback?.properties?.reasonString).toBe(
      'PUBLISH_DENIED: "devices/sensor-001/telemetry" is outside the grant of "sensor-002"',
    );
    const denied = await fixture.waitFor((r) => r.event === 'publish-denied' && r.cn === 'sensor-002');
    expect(denied.detail).toBe('outside the grant: PUBACK 0x87');
    // still connected and still allowed its own topic
    const own = await new Promise<Error | undefined>((resolve) =>
      device.publish('devices/sensor-002/telemetry', '1', { qos: 1 }, (e) => resolve(e ?? undefined)),
    );
    expect(own).toBeUndefined();
    expect(device.connected).toBe(true);
    expect(
      fixture.records.some((r) => r.event === 'disconnected' && r.connection === denied.connection),
    ).toBe(false);
  });

  it('to $SYS is refused even where no policy could grant it: acknowledged and dropped (3.1.1)', async () => {
    const dashboard = await connected('dashboard');
    const forged: string[] = [];
    dashboard.on('message', (_t, payload) => payload.includes('forged') && forged.push(payload.toString()));
    expect(await subscribe(dashboard, AUDIT_TOPIC)).toBe(0);
    await dashboard.publishAsync(AUDIT_TOPIC, '{"event":"forged"}', { qos: 1 }); // resolves on the PUBACK
    const denied = await fixture.waitFor((r) => r.event === 'publish-denied' && r.topic === AUDIT_TOPIC);
    expect(denied).toMatchObject({ reason: 'PUBLISH_DENIED', cn: 'dashboard' });
    expect(denied.detail).toBe("'$' topics belong to the broker: acknowledged, not delivered");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(dashboard.connected).toBe(true);
    expect(forged).toEqual([]);
    expect(fixture.records.some((r) => (r.event as string) === 'forged')).toBe(false);
  });
});

describe('subscribe', () => {
  it.each([
    ['#', 128],
    ['devices/#', 128],
    ['devices/+/commands/#', 128],
    ['devices/sensor-002/commands/#', 128],
    ['$SYS/#', 128],
    [AUDIT_TOPIC, 128],
    ['devices/sensor-003/commands/#', 0],
    ['devices/sensor-003/commands/reboot', 0],
    ['devices/sensor-003/commands/+', 0],
  ])('sensor-003 subscribing to %s → SUBACK %d, and it stays connected', async (filter, expected) => {
    const client = await connected('sensor-003');
    expect(await subscribe(client, filter)).toBe(expected);
    expect(client.connected).toBe(true);
    if (expected === 128) {
      const record = await fixture.waitFor((r) => r.event === 'subscribe-denied' && r.topic === filter);
      expect(record).toMatchObject({ reason: 'SUBSCRIBE_DENIED', cn: 'sensor-003' });
    }
    client.end();
  });

  it('the audit feed reaches the dashboard, with every decision as JSON', async () => {
    const dashboard = await connected('dashboard');
    expect(await subscribe(dashboard, AUDIT_TOPIC)).toBe(0);
    const heard = new Promise<AuditRecord>((resolve) => {
      dashboard.on('message', (topic, payload) => {
        const record = JSON.parse(payload.toString()) as AuditRecord;
        if (topic === AUDIT_TOPIC && record.event === 'connect-refused' && record.clientId === 'sensor-009') {
          resolve(record);
        }
      });
    });
    await connectAs(fixture.broker, pki.stateDir, 'sensor-004', { clientId: 'sensor-009' }, cleanups);
    expect(await heard).toMatchObject({ reason: 'CLIENT_ID_MISMATCH', cn: 'sensor-004' });
  });
});

describe('deliveries and wills', () => {
  it('a retained message is delivered only inside the grant', async () => {
    const dashboard = await connected('dashboard');
    await new Promise((resolve) =>
      dashboard.publish('devices/sensor-002/commands/reboot', 'now', { retain: true, qos: 1 }, resolve),
    );
    const device = await connected('sensor-003');
    const seen: string[] = [];
    device.on('message', (topic) => seen.push(topic));
    // sensor-003 may only subscribe its own commands; the retained command for sensor-002 must not leak
    expect(await subscribe(device, 'devices/sensor-003/commands/#')).toBe(0);
    const own = nextMessage(device, 'devices/sensor-003/commands/ping');
    dashboard.publish('devices/sensor-003/commands/ping', '1');
    await own;
    expect(seen).toEqual(['devices/sensor-003/commands/ping']);
  });

  it('a will inside the grant is published when the device drops', async () => {
    const dashboard = await connected('dashboard');
    expect(await subscribe(dashboard, 'devices/sensor-002/status')).toBe(0);
    const will = {
      topic: 'devices/sensor-002/status',
      payload: Buffer.from('offline'),
      qos: 0 as const,
      retain: false,
    };
    const device = await connected('sensor-002', { will });
    const arrived = nextMessage(dashboard, 'devices/sensor-002/status');
    device.stream.destroy(); // an abnormal end: the broker publishes the will
    expect((await arrived).toString()).toBe('offline');
  });

  it('a will outside the grant refuses the CONNECT', async () => {
    const will = {
      topic: 'devices/sensor-001/status',
      payload: Buffer.from('x'),
      qos: 0 as const,
      retain: false,
    };
    const outcome = await connectAs(fixture.broker, pki.stateDir, 'sensor-004', { will }, cleanups);
    expect(outcome.error?.code).toBe(5);
    const record = await fixture.waitFor(
      (r) => r.event === 'connect-refused' && r.reason === 'PUBLISH_DENIED',
    );
    expect(record.detail).toContain('devices/sensor-001/status');
  });
});
