/**
 * Refusing a CONNECT so that the client learns why.
 *
 * A client whose certificate did not verify (non-strict mode): the TLS handshake completes, the broker waits for
 * the MQTT CONNECT — parsed here, never by aedes — answers and closes. A client refused by the policy: the same
 * CONNACK, written from the preConnect hook before aedes answers anything. MQTT 3.1.1 has one code for all of it
 * (return code 5, "not authorized"); an MQTT 5 client gets reason code 0x87 with a Reason String naming the
 * refusal (`EXPIRED: certificate expired 2026-11-29`), which MQTT 5 allows on a CONNACK whatever the client's
 * Request Problem Information [MQTT-3.1.2-29]. MQTT clients treat either as final instead of reconnecting
 * blindly. Anything else than a CONNECT, a packet over the size limit, or silence past the timeout just closes.
 */
import mqttPacket from 'mqtt-packet';
import type { TLSSocket } from 'node:tls';
import { describeReason, type Reason } from '../core/reasons.ts';
import type { AuditCertificate } from './audit-record.ts';
import { FrameScanner } from './packet-size-guard.ts';

/** MQTT 5 CONNACK reason code 0x87 "Not authorized" (MQTT 5 §3.2.2.2). */
export const NOT_AUTHORIZED_V5 = 0x87;
/** MQTT 3.1.1 CONNACK return code 5 "Connection Refused, not authorized" (MQTT 3.1.1 §3.2.2.3). */
export const NOT_AUTHORIZED_V311 = 5;

export interface Refusal {
  readonly reason: Reason;
  /** The technical detail the audit records. */
  readonly detail: string;
  /** The client's certificate, when it presented one (dates for EXPIRED / NOT_YET_VALID). */
  readonly cert?: AuditCertificate;
}

/** The Reason String: the reason code of our vocabulary first (machine-readable), then the plain words. */
export function refusalReasonString(refusal: Refusal): string {
  const { reason, detail, cert } = refusal;
  switch (reason) {
    case 'EXPIRED':
      return cert ? `EXPIRED: certificate expired ${cert.validTo.slice(0, 10)}` : `EXPIRED: ${detail}`;
    case 'NOT_YET_VALID':
      return cert
        ? `NOT_YET_VALID: certificate valid from ${cert.validFrom.slice(0, 10)}`
        : `NOT_YET_VALID: ${detail}`;
    case 'REVOKED':
      return cert ? `REVOKED: certificate serial ${cert.serial} is revoked` : 'REVOKED';
    case 'CLIENT_ID_MISMATCH':
    case 'UNKNOWN_IDENTITY':
    case 'PUBLISH_DENIED':
    case 'LIMIT_EXCEEDED':
      return `${reason}: ${detail}`; // the broker's own words, written for people
    default:
      return `${reason}: ${describeReason(reason)}`; // OpenSSL's code stays in the audit, not on the wire
  }
}

/** The CONNACK refusing this CONNECT, in the client's protocol version. */
export function refusalConnack(protocolVersion: number, refusal: Refusal): Buffer {
  if (protocolVersion === 5) {
    return mqttPacket.generate(
      {
        cmd: 'connack',
        sessionPresent: false,
        reasonCode: NOT_AUTHORIZED_V5,
        properties: { reasonString: refusalReasonString(refusal) },
      },
      { protocolVersion: 5 },
    );
  }
  return mqttPacket.generate(
    { cmd: 'connack', sessionPresent: false, returnCode: NOT_AUTHORIZED_V311 },
    { protocolVersion: 4 },
  );
}

export interface RefusedConnectOutcome {
  /** The client id from the CONNECT, if one arrived. */
  clientId?: string;
  /** What happened at the MQTT level, for the audit's detail. */
  mqtt:
    | 'connack-5-sent'
    | 'connack-0x87-sent'
    | 'no-connect'
    | 'timeout'
    | 'not-a-connect'
    | 'malformed'
    | 'too-large';
}

export function answerRefusedConnect(
  socket: TLSSocket,
  limits: { connectTimeoutMs: number; maxPacketSize: number },
  refusal: Refusal,
): Promise<RefusedConnectOutcome> {
  return new Promise((resolve) => {
    const parser = mqttPacket.parser();
    const scanner = new FrameScanner(limits.maxPacketSize);
    let settled = false;
    const finish = (outcome: RefusedConnectOutcome, close: 'end' | 'destroy') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (close === 'end') socket.end();
      else socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ mqtt: 'timeout' }, 'destroy'), limits.connectTimeoutMs);
    const onData = (chunk: Buffer) => {
      if (scanner.feed(chunk)) return finish({ mqtt: 'too-large' }, 'destroy');
      parser.parse(chunk);
    };
    parser.on('packet', (packet) => {
      if (packet.cmd !== 'connect') return finish({ mqtt: 'not-a-connect' }, 'destroy');
      const v5 = packet.protocolVersion === 5;
      socket.write(refusalConnack(packet.protocolVersion ?? 4, refusal));
      finish({ clientId: packet.clientId, mqtt: v5 ? 'connack-0x87-sent' : 'connack-5-sent' }, 'end');
    });
    parser.on('error', () => finish({ mqtt: 'malformed' }, 'destroy'));
    socket.on('data', onData);
    socket.on('error', () => finish({ mqtt: 'no-connect' }, 'destroy'));
    socket.on('close', () => finish({ mqtt: 'no-connect' }, 'destroy'));
  });
}
