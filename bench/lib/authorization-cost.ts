/**
 * What certfleet's per-message policy checks cost, timed in-process on the broker's own hooks: for one message
 * published by a device and delivered to the dashboard, `authorizePublish` + `authorizeForward` with the default
 * policy. Set against the broker's CPU per message without checks (measured in the throughput runs), this gives
 * the authorization overhead free of the run-to-run noise of a shared machine.
 */
import type { Client, ConnectPacket } from 'aedes';
import { createAuthorization, type ConnectionInfo } from '../../broker/authorization.ts';
import { DEFAULT_LIMITS, parsePolicy } from '../../broker/index.ts';
import { DEFAULT_POLICY_YAML } from '../../pki/index.ts';

function fakeClient(id: string): { client: Client; info: ConnectionInfo } {
  const client = { id, conn: {} } as unknown as Client;
  const info: ConnectionInfo = {
    connection: 1,
    peer: { address: '127.0.0.1', port: 1 },
    cn: id,
    cert: {
      subject: `CN=${id}`,
      issuer: 'CN=bench',
      serial: '01',
      fingerprint256: '',
      validFrom: '',
      validTo: '',
    },
    tls: 'TLSv1.3',
  };
  return { client, info };
}

/** Nanoseconds of policy checks per message published by a device and delivered to the dashboard. */
export function authorizationNanosecondsPerMessage(iterations = 1_000_000): number {
  const policy = parsePolicy(DEFAULT_POLICY_YAML, 'default-policy');
  const device = fakeClient('sensor-ec-0000');
  const dashboard = fakeClient('dashboard');
  const infos = new Map([
    [device.client, device.info],
    [dashboard.client, dashboard.info],
  ]);
  const hooks = createAuthorization({
    policy: () => policy,
    revoked: () => new Set<string>(),
    limits: DEFAULT_LIMITS,
    infoOf: (client) => infos.get(client),
    audit: () => {},
  });
  for (const { client } of [device, dashboard]) {
    const packet = { cmd: 'connect', clientId: client.id, keepalive: 60 } as unknown as ConnectPacket;
    hooks.preConnect(client, packet, () => {});
    hooks.authenticate(client, undefined, undefined, (error) => {
      if (error) throw error;
    });
  }
  const packet = {
    cmd: 'publish',
    brokerId: 'bench',
    brokerCounter: 0,
    topic: 'devices/sensor-ec-0000/telemetry',
    payload: Buffer.alloc(128),
    qos: 0,
    retain: false,
    dup: false,
  } as unknown as Parameters<typeof hooks.authorizeForward>[1];
  let denied = 0;
  const onPublish = (error?: Error | null) => {
    if (error) denied++;
  };
  const run = (count: number) => {
    for (let i = 0; i < count; i++) {
      hooks.authorizePublish(device.client, packet, onPublish);
      if (!hooks.authorizeForward(dashboard.client, packet)) denied++;
    }
  };
  run(100_000); // let the JIT settle
  const before = process.cpuUsage(); // CPU time, not wall time: other load on the machine does not count
  run(iterations);
  const cpu = process.cpuUsage(before);
  const nanoseconds = ((cpu.user + cpu.system) * 1000) / iterations;
  if (denied > 0) throw new Error(`the default policy denied ${denied} bench messages: the bench is wrong`);
  return nanoseconds;
}
