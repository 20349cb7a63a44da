/**
 * The PKI off the UI thread: revocation signs a CRL, planning devices issues certificates, showIdentity parses
 * them; all of it runs here so a keystroke never waits on it.
 */
import { parentPort } from 'node:worker_threads';
import { type ImpostorBroker, startImpostorBroker } from '../../devices/impostor-broker.ts';
import { type FleetPlan, planFleet } from '../../devices/plan.ts';
import type { BrokerAddress } from '../../devices/spec.ts';
import { pkiLayout, revokeIdentity, showIdentity } from '../../pki/index.ts';
import type { CertificateSummary } from '../controls.ts';
import { serveRpc } from './worker-rpc.ts';

async function certificate(stateDir: string, id: string): Promise<CertificateSummary | null> {
  const info = await showIdentity(stateDir, id);
  if (!info.paths.chain && !info.paths.cert) return null;
  const { commonName, issuer, notBefore, notAfter, keyType, fingerprint256, status, serial } = info;
  return { commonName, issuer, notBefore, notAfter, keyType, fingerprint256, status, serial };
}

/** The files a client needs to connect as this identity (mosquitto_pub --cafile/--cert/--key). */
async function files(stateDir: string, id: string) {
  const info = await showIdentity(stateDir, id);
  // The broker is verified against our root, whatever signed the device's own certificate (a rogue's may be foreign).
  return {
    ca: pkiLayout(stateDir).rootCert,
    chain: info.paths.chain,
    key: info.paths.key,
    commonName: info.commonName,
  };
}

let impostor: Promise<ImpostorBroker> | undefined;

/** The impostor broker (a TLS server with a foreign CA's certificate) runs here too: its handshakes stay off the UI thread. */
async function impostorBroker(stateDir: string): Promise<BrokerAddress> {
  impostor ??= startImpostorBroker(stateDir);
  return (await impostor).address;
}

if (parentPort) {
  serveRpc(parentPort, {
    certificate,
    files,
    // Issuing identities signs certificates: planning (which issues what it needs) happens here too.
    plan: (plan: FleetPlan) => planFleet(plan),
    impostorBroker,
    revoke: async (stateDir: string, id: string) => {
      await revokeIdentity(stateDir, id);
      return true;
    },
  });
}
