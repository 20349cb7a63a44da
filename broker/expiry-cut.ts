/**
 * A certificate that expires while its session is open ends the session at that moment, as a revocation would:
 * one timer per session, armed when the session is accepted, fired at the certificate's notAfter (the conservative
 * reading: trust ends when notAfter is reached, not a second later). Node's timers fire late only by the event
 * loop's lag, so the cut lands within milliseconds of the expiry, not on the next tick of a poll.
 */
import type { Aedes, Client } from 'aedes';
import type { AuditRecord } from './audit-record.ts';
import {
  auditBase,
  DISCONNECT_NOT_AUTHORIZED,
  endSession,
  type Session,
  type SessionRegistry,
} from './authorization.ts';
import { refusalReasonString } from './refused-connect.ts';

/** setTimeout's ceiling (about 24.8 days): longer lifetimes re-arm when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

/** One per open session: what its timer needs (the timer's callback is shared by all sessions). */
interface ExpiryWatch {
  readonly client: Client;
  readonly session: Session;
  readonly expiresAt: number;
  timer?: NodeJS.Timeout;
}

export function cutSessionsAtExpiry(
  broker: Aedes,
  registry: SessionRegistry,
  audit: (record: Omit<AuditRecord, 'ts'>) => void,
): void {
  // Shared by every session, so that a held connection carries only its watch and its timer.
  const arm = (watch: ExpiryWatch) => {
    const ms = Math.min(Math.max(watch.expiresAt - Date.now(), 0), MAX_TIMER_MS);
    watch.timer = setTimeout(fire, ms, watch);
    watch.timer.unref();
  };
  const fire = (watch: ExpiryWatch) => {
    const { client, session, expiresAt } = watch;
    if (Date.now() < expiresAt) return arm(watch);
    if (registry.sessions.get(client) !== session || session.cause) return;
    session.cause = 'EXPIRED';
    session.detail = `the certificate expired during the session (notAfter ${session.info.cert.validTo})`;
    audit({
      event: 'expired-session-closed',
      reason: 'EXPIRED',
      ...auditBase(session.info, session.clientId),
      cert: session.info.cert,
      detail: `${session.detail}; cut ${Date.now() - expiresAt} ms after notAfter`,
    });
    const text = refusalReasonString({
      reason: 'EXPIRED',
      detail: session.detail,
      cert: session.info.cert,
    });
    endSession(session, DISCONNECT_NOT_AUTHORIZED, text); // MQTT 5: DISCONNECT 0x87 "EXPIRED: …"
  };
  broker.on('clientReady', (client: Client) => {
    const session = registry.sessions.get(client);
    if (!session) return;
    const watch: ExpiryWatch = { client, session, expiresAt: Date.parse(session.info.cert.validTo) };
    arm(watch);
    client.conn.once('close', () => clearTimeout(watch.timer));
  });
}
