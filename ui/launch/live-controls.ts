/**
 * FleetControls over the real world: the fleet (devices in worker threads), the PKI (in the pki worker) and the
 * dashboard's own MQTT client (commands travel through the broker, authorized by the policy like anyone's).
 */
import type { Fleet } from '../../devices/fleet.ts';
import type { DeviceProfile } from '../../devices/events.ts';
import type { FleetPlan } from '../../devices/plan.ts';
import { isBehaviourRogue, isCredentialRogue, type RogueKind } from '../../core/rogues.ts';
import type { BrokerAddress, DeviceSpec } from '../../devices/spec.ts';
import type { ConnectionInfo } from '../connect-commands.ts';
import type { CertificateSummary, FleetControls } from '../controls.ts';
import { parseDeviceCommand } from '../device-command.ts';
import type { RpcClient } from './worker-rpc.ts';

export interface LiveControlsOptions {
  stateDir: string;
  fleet: Fleet;
  pki: RpcClient;
  broker: BrokerAddress;
  /** Every node of a local cluster, `broker` first: the devices are spread over them (devices/plan.ts). */
  brokers?: BrokerAddress[];
  intervalMs: number;
  /** Publishes as the dashboard identity; resolves once the broker acknowledged it. */
  publish: (topic: string, payload: string) => Promise<void>;
  quit: () => Promise<void>;
  /** The first devices start once this settles (the dashboard reads the audit feed); planning does not wait. */
  beforeFirstLaunch?: Promise<unknown>;
}

/** Sensors in the first certificate batch (small: the first devices connect early), then in each later one. */
const FIRST_BATCH = 100;
const BATCH = 300;

export class LiveControls implements FleetControls {
  private nextNumber = 1;
  /**
   * Behaviour and impostor-broker rogues are numbered within one plan (sensor-r01, sensor-i01…): re-planning all of
   * them and taking the last keeps ids unique.
   */
  private readonly numberedKinds: string[] = [];
  private impostor?: BrokerAddress;
  private readonly identityOf = new Map<string, string | null>();

  constructor(private readonly options: LiveControlsOptions) {}

  /**
   * Plans and starts the demo fleet: `sensors` sensors cycling through the profiles, plus the given rogues. The
   * certificates are issued in batches (the PKI's bulk path), and each batch's devices start connecting while the
   * next one is issued: a thousand new devices do not wait for the last certificate.
   */
  async start(sensors: number, profiles: DeviceProfile[], rogues: RogueKind[]): Promise<string[]> {
    const first = this.nextNumber;
    this.nextNumber += sensors;
    this.numberedKinds.push(...rogues.filter(isNumbered));
    const ids: string[] = [];
    let done = 0;
    do {
      const count = Math.min(sensors - done, done === 0 ? FIRST_BATCH : BATCH);
      // The profiles keep cycling across batches as they would in one plan.
      const turn = done % Math.max(1, profiles.length);
      const specs = await this.plan({
        count,
        profiles: [...profiles.slice(turn), ...profiles.slice(0, turn)],
        firstNumber: first + done,
        // Rogues with the first batch: a behaviour rogue's victim is the plan's first sensor, as in one plan.
        ...(done === 0 && { rogues }),
      });
      ids.push(...(await this.launch(specs)));
      done += count;
    } while (done < sensors);
    return ids;
  }

  async addDevices(profile: DeviceProfile, count: number): Promise<string[]> {
    const firstNumber = this.nextNumber;
    this.nextNumber += count;
    const specs = await this.plan({ count, profiles: [profile], firstNumber });
    return this.launch(specs);
  }

  async addRogue(kind: RogueKind): Promise<string> {
    if (isNumbered(kind)) {
      if (kind === 'impostor-broker') {
        this.impostor ??= await this.options.pki.call<BrokerAddress>('impostorBroker', this.options.stateDir);
      }
      this.numberedKinds.push(kind);
      const specs = await this.plan({ count: 0, rogues: this.numberedKinds });
      return (await this.launch(specs.slice(-1)))[0] as string;
    }
    const [spec] = await this.plan({ count: 0, rogues: [kind] });
    if (!spec) throw new Error(`no plan for rogue ${kind}`);
    // A second rogue of a kind shares the credential; only its device id must differ.
    let id = spec.id;
    for (let n = 2; this.identityOf.has(id); n++) id = `${spec.id}-${n}`;
    return (await this.launch([{ ...spec, id }]))[0] as string;
  }

  async remove(id: string): Promise<void> {
    this.options.fleet.remove([id]);
  }

  async setPaused(id: string, paused: boolean): Promise<void> {
    if (paused) this.options.fleet.pause([id]);
    else this.options.fleet.resume([id]);
  }

  /** `ping`, `reboot`, `set-interval 2s`: published to devices/{id}/commands/<name> as the dashboard (QoS 1). */
  async sendCommand(id: string, command: string): Promise<void> {
    const { topic, payload } = parseDeviceCommand(id, command);
    await this.options.publish(topic, payload);
  }

  async revoke(id: string): Promise<void> {
    const identity = this.identityOf.get(id);
    if (identity === undefined) throw new Error(`${id} is not a device of this dashboard`);
    if (identity === null) throw new Error(`${id} has no certificate to revoke`);
    await this.options.pki.call('revoke', this.options.stateDir, identity);
  }

  async certificate(id: string): Promise<CertificateSummary | null> {
    const identity = this.identityOf.get(id);
    if (!identity) return null;
    return this.options.pki.call<CertificateSummary | null>('certificate', this.options.stateDir, identity);
  }

  async connection(id: string): Promise<ConnectionInfo | null> {
    const identity = this.identityOf.get(id);
    if (identity === undefined) return null;
    const { host, port } = this.options.broker;
    const files = await this.options.pki.call<{
      ca: string;
      chain?: string;
      key?: string;
      commonName?: string;
    }>('files', this.options.stateDir, identity ?? 'server');
    // A device without a certificate connects with the CA file only (and is refused, which is the point).
    if (identity === null) return { host, port, clientId: id, ca: files.ca };
    return { host, port, clientId: files.commonName ?? id, ca: files.ca, cert: files.chain, key: files.key };
  }

  quit(): Promise<void> {
    return this.options.quit();
  }

  private plan(part: Partial<FleetPlan>): Promise<DeviceSpec[]> {
    const plan: FleetPlan = {
      stateDir: this.options.stateDir,
      broker: this.options.broker,
      ...(this.options.brokers && { brokers: this.options.brokers }),
      count: 0,
      intervalMs: this.options.intervalMs,
      ...(this.impostor && { impostorBroker: this.impostor }),
      ...part,
    };
    return this.options.pki.call<DeviceSpec[]>('plan', plan);
  }

  private async launch(specs: DeviceSpec[]): Promise<string[]> {
    await this.options.beforeFirstLaunch;
    for (const spec of specs) this.identityOf.set(spec.id, identityFor(spec));
    this.options.fleet.add(specs);
    return specs.map((spec) => spec.id);
  }
}

function isNumbered(kind: string): boolean {
  return isBehaviourRogue(kind) || kind === 'impostor-broker';
}

/** The PKI identity whose certificate a device presents (null: it presents none). */
function identityFor(spec: DeviceSpec): string | null {
  if (!spec.credentials.chain) return null;
  if (spec.rogue && isCredentialRogue(spec.kind)) return `rogue-${spec.kind}`;
  return spec.id;
}
