/**
 * Can a run happen at all? One connection with a certificate of ours, before any device starts: the broker must
 * answer TCP, speak TLS with a certificate our CA list trusts, and answer an MQTT CONNECT with a CONNACK (any return
 * code: a refusal still proves an MQTT broker). If not, the run could not happen — exit code 2 with the reason.
 */
import { showIdentity } from '../../pki/index.ts';
import type { BrokerAddress, DeviceSpec } from '../spec.ts';
import { probeConnect } from './probe.ts';
import { CheckImpossible } from './types.ts';

export interface PreflightResult {
  /** The broker answered a CONNECT (any CONNACK). */
  mqtt: boolean;
  /** What happened to our certificate, in plain words. */
  detail: string;
}

/** The client id of the preflight connection: no device's, so it takes over no session. */
export const PREFLIGHT_CLIENT_ID = 'certfleet-preflight';

export async function preflight(spec: DeviceSpec, timeoutMs = 6_000): Promise<PreflightResult> {
  const where = `${spec.broker.host}:${spec.broker.port}`;
  const result = await probeConnect(
    { ...spec, id: PREFLIGHT_CLIENT_ID, clientId: PREFLIGHT_CLIENT_ID },
    timeoutMs,
  );
  if (result.ok) {
    await result.connection.close();
    return { mqtt: true, detail: 'CONNACK 0' };
  }
  const { reason, step, detail } = result.diagnosis;
  if (step === 'tcp-connect' || reason === 'BROKER_UNREACHABLE') {
    throw new CheckImpossible(
      'broker unreachable',
      `${where}: ${detail}`,
      'Is the broker running and listening on that address? Check --broker (mqtts://host:port).',
    );
  }
  if (step === 'server-certificate') {
    throw new CheckImpossible(
      'no TLS',
      `${where} did not complete a TLS handshake (${reason}: ${detail})`,
      'Is this a plain MQTT port (1883)? certfleet tests mutual TLS: point --broker at the TLS listener (often 8883).' +
        // A close before the ServerHello is all a client sees of both: a plain MQTT port answering our ClientHello
        // as a bad packet (Mosquitto resets), and a broker at its handshake capacity closing before any TLS work.
        (reason === 'BROKER_BUSY'
          ? ' If it is the TLS listener, the broker is at its handshake capacity or overloaded: try again in a moment.'
          : ''),
    );
  }
  if (step === 'server-verified') {
    throw new CheckImpossible(
      'TLS failed',
      `${where}: ${detail}`,
      'Pass the CA that signed the broker certificate with --ca FILE, and a host name the certificate names.',
    );
  }
  if (reason === 'TIMEOUT') {
    throw new CheckImpossible(
      'not an MQTT broker',
      `${where} completed the TLS handshake but never answered the MQTT CONNECT (${detail})`,
      'Is this the MQTT listener? A TLS port of another service (HTTPS…) looks like this.',
    );
  }
  // Our certificate was refused, or the CONNECT was (CONNACK ≠ 0): the broker speaks TLS and maybe MQTT.
  return { mqtt: step === 'access-granted', detail: `${reason} at ${step}: ${detail}` };
}

/**
 * The preflight with the dashboard's certificate (made by `pki init`): for `devices run --broker`, which has no
 * scenario. Returns the `ERROR: …` text of a run that cannot happen, or undefined.
 */
export async function brokerProblem(
  stateDir: string,
  broker: BrokerAddress,
  ca?: string,
): Promise<string | undefined> {
  const dashboard = await showIdentity(stateDir, 'dashboard');
  try {
    await preflight({
      id: 'dashboard',
      kind: 'climate',
      rogue: false,
      profile: 'climate',
      clientId: 'dashboard',
      broker,
      credentials: { chain: dashboard.paths.chain, key: dashboard.paths.key, ca: ca ?? dashboard.paths.ca },
      intervalMs: 5_000,
      seed: 'preflight',
    });
    return undefined;
  } catch (error) {
    if (error instanceof CheckImpossible) return error.format();
    throw error;
  }
}
