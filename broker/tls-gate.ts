/**
 * The verification gate: every TLS connection passes here once its handshake completed. Only a socket whose
 * client certificate verified (`socket.authorized`) is admitted to MQTT; the others are audited with their reason
 * and answered without aedes ever seeing them (CONNACK 5, or a close right away in strict mode).
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { AuditRecord } from './audit-record.ts';
import type { ConnectionInfo } from './authorization.ts';
import type { BrokerLimits } from './limits.ts';
import { commonNameOf, summarizeCertificate, summarizeVerifiedPeer } from './peer-certificate.ts';
import { answerRefusedConnect } from './refused-connect.ts';
import { verificationRefusal } from './tls-refusal.ts';

export interface GateContext {
  readonly strict: boolean;
  readonly limits: BrokerLimits;
  /** Our CA certificates, to tell "not ours" from "ours but refused" when OpenSSL's last error hides it. */
  readonly issuers: readonly X509Certificate[];
  nextConnection(): number;
  /** Takes a connection token for this identity; false when it connects too often. */
  identityRate(cn: string): boolean;
  /** Refused peers being kept to answer their CONNECT now (bounded by limits.maxRefusedPending). */
  refusedWaiting: { count: number };
  audit(record: Omit<AuditRecord, 'ts'>): void;
  /** Hand a verified connection to the MQTT layer. */
  admit(socket: TLSSocket, info: ConnectionInfo): void;
}

/** Errors are reported through aedes or the refusal path; never crash the broker. Shared: a closure made here would
 * hold this function's per-connection scope for as long as the socket lives. */
function ignoreSocketError(): void {}

export function gateConnection(socket: TLSSocket, context: GateContext): void {
  const connection = context.nextConnection();
  const peer = { address: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
  socket.on('error', ignoreSocketError);
  const tls = socket.getProtocol() ?? '';
  // A verified peer (nearly every connection) is read without copying its certificate; refusals take the exact,
  // slower path below, which the diagnosis needs anyway.
  const verified = socket.authorized ? summarizeVerifiedPeer(socket, context.issuers) : null;
  const x509 = verified ? undefined : socket.getPeerX509Certificate();
  const cert = verified?.cert ?? (x509 ? summarizeCertificate(x509) : undefined);
  if (socket.authorized && cert) {
    const cn = verified ? verified.cn : commonNameOf(socket, x509);
    if (cn !== null && !context.identityRate(cn)) {
      socket.destroy();
      const rate = context.limits.connectionRatePerIdentity;
      context.audit({
        event: 'connect-refused',
        reason: 'LIMIT_EXCEEDED',
        connection,
        peer,
        cn,
        cert,
        tls,
        detail: `${cn} connects more than ${rate} times/s (bursts of ${rate * 2}): closed after the handshake`,
      });
      return;
    }
    context.admit(socket, { connection, peer, cn, cert, tls });
    return;
  }
  const { reason, detail } = verificationRefusal(socket, context.issuers);
  const cn = x509 ? (commonNameOf(socket, x509) ?? undefined) : undefined;
  const base = { event: 'handshake-refused' as const, reason, connection, peer, cn, cert, tls };
  if (context.strict) {
    socket.destroy();
    context.audit({ ...base, detail: `${detail}; strict: closed after the handshake` });
    return;
  }
  // Answering a refused peer's CONNECT holds its socket for up to the CONNECT timeout: a bounded courtesy, so
  // that peers without a certificate cannot hold the slots real devices need.
  const waiting = context.refusedWaiting;
  if (waiting.count >= context.limits.maxRefusedPending) {
    socket.destroy();
    const full = `${waiting.count} refused peers already waiting for their CONNECT: closed at once`;
    context.audit({ ...base, detail: `${detail}; ${full}` });
    return;
  }
  waiting.count++;
  void answerRefusedConnect(socket, context.limits, { reason, detail, cert }).then((outcome) => {
    waiting.count--;
    context.audit({ ...base, clientId: outcome.clientId, detail: `${detail}; MQTT: ${outcome.mqtt}` });
  });
}
