/**
 * The broker-side enrollment service: answers certificate requests published on `enroll/{cn}/request` (see
 * core/enrollment-protocol.ts). The policy decides who may publish there, as for any topic; the request topic's CN
 * must be the CN of the session's own certificate, which is what authorizes it. Certificates are signed with the
 * issuing CA, recorded in the ledger, audited (`enrollment-issued` / `enrollment-refused` with the reason), and
 * returned at QoS 1 on the requester's response topic.
 */
import type { Aedes, Client } from 'aedes';
import {
  type EnrollResponse,
  enrollTopics,
  REF_PATTERN,
  requestTopicCn,
} from '../../core/enrollment-protocol.ts';
import type { Reason } from '../../core/reasons.ts';
import {
  buildCertificate,
  type CertificateAuthority,
  CsrError,
  enrollmentLedgerPath,
  leafValidity,
  loadIssuingCa,
  type ParsedCsr,
  parseCsr,
  pkiLayout,
  readClaim,
  readIndex,
} from '../../pki/index.ts';
import type { AuditRecord } from '../audit-record.ts';
import { auditBase, type Session, type SessionRegistry } from '../authorization.ts';
import { decideEnrollment } from './decide.ts';
import { EnrollmentLedger } from './ledger.ts';

/** A CSR is a few hundred bytes; anything far larger is not one. */
const MAX_REQUEST_BYTES = 16 * 1024;

export interface EnrollmentService {
  /**
   * A rotated certificate carries a new serial the CRL does not know: `pki revoke <id>` revokes the serial in the
   * PKI index, the first of the line. The ledger's lineage carries that revocation to every successor.
   */
  revokedPredecessor(serial: string, isRevoked: (serial: string) => boolean): string | null;
  close(): void;
}

export async function startEnrollment(
  broker: Aedes,
  registry: SessionRegistry,
  audit: (record: Omit<AuditRecord, 'ts'>) => void,
  options: { stateDir: string; ledgerFile?: string },
): Promise<EnrollmentService> {
  const layout = pkiLayout(options.stateDir);
  const ca: CertificateAuthority = await loadIssuingCa(layout);
  const ledger = new EnrollmentLedger(options.ledgerFile ?? enrollmentLedgerPath(options.stateDir));
  const busy = new WeakSet<Session>(); // one request at a time per session: a flood waits for nothing
  const pendingPerClaim = new Map<string, number>();
  const reservedCns = new Set<string>();

  const respond = (cn: string, ref: string, response: EnrollResponse) => {
    const payload = Buffer.from(JSON.stringify(response));
    const topic = enrollTopics.response(cn, ref);
    broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, () => {});
  };

  const refuse = (session: Session, ref: string | null, reason: Reason, detail: string) => {
    audit({ event: 'enrollment-refused', reason, ...auditBase(session.info, session.clientId), detail });
    if (ref !== null && session.info.cn !== null)
      respond(session.info.cn, ref, { ok: false, reason, detail });
  };

  async function handle(session: Session, topicCn: string, payload: Buffer): Promise<void> {
    const cn = session.info.cn;
    if (cn === null) return;
    let ref: string | null = null;
    let csrPem: unknown;
    try {
      const body = JSON.parse(payload.toString('utf8')) as { ref?: unknown; csr?: unknown };
      if (typeof body.ref === 'string' && REF_PATTERN.test(body.ref)) ref = body.ref;
      csrPem = body.csr;
    } catch {
      // refused below
    }
    if (topicCn !== cn) {
      return refuse(
        session,
        null,
        'CN_NOT_ALLOWED',
        `the request topic names "${topicCn}", the certificate "${cn}"`,
      );
    }
    if (ref === null || typeof csrPem !== 'string' || payload.length > MAX_REQUEST_BYTES) {
      return refuse(
        session,
        ref,
        'CSR_INVALID',
        'the request is not {"ref": "<1-64 of A-Za-z0-9_->", "csr": "<PEM>"}',
      );
    }
    let csr: ParsedCsr;
    try {
      csr = parseCsr(csrPem);
    } catch (error) {
      if (error instanceof CsrError) return refuse(session, ref, 'CSR_INVALID', error.message);
      throw error;
    }
    const claim = await readClaim(options.stateDir, cn);
    const issuedIds = claim ? new Set(Object.keys((await readIndex(layout)).identities)) : new Set<string>();
    const decision = decideEnrollment({ cn, cert: session.info.cert, claim }, csr, {
      ledger,
      pending: (name) => pendingPerClaim.get(name) ?? 0,
      issued: (id) => issuedIds.has(id) || reservedCns.has(id),
    });
    if (!decision.ok) return refuse(session, ref, decision.reason, decision.detail);

    // Reserve before the first await below, so concurrent requests cannot both pass the quota or take one name.
    if (claim) {
      pendingPerClaim.set(claim.name, (pendingPerClaim.get(claim.name) ?? 0) + 1);
      reservedCns.add(decision.cn);
    }
    try {
      const validity = leafValidity({ days: 0, validityMs: decision.validityMs });
      const built = await buildCertificate({
        subject: { commonName: decision.cn },
        publicKey: csr.spki,
        issuer: ca,
        profile: 'client',
        ...validity,
      });
      const notAfter = validity.notAfter;
      notAfter.setUTCMilliseconds(0); // what the certificate says (X.509 times are whole seconds)
      const serial = built.serialHex.toUpperCase();
      ledger.append({
        ts: new Date().toISOString(),
        via: decision.via,
        ...(claim && { claim: claim.name }),
        cn: decision.cn,
        serial,
        notAfter: notAfter.toISOString(),
        requestedWith: session.info.cert.serial,
      });
      const used = claim ? ` (${ledger.usedBy(claim.name)}/${claim.quota} of claim "${claim.name}")` : '';
      audit({
        event: 'enrollment-issued',
        reason: 'OK',
        ...auditBase(session.info, session.clientId),
        cert: session.info.cert,
        issued: { cn: decision.cn, serial, notAfter: notAfter.toISOString(), via: decision.via },
        detail: `${decision.via}: ${csr.keyType} key, serial ${session.info.cert.serial} → ${serial}${used}`,
      });
      respond(cn, ref, { ok: true, chain: built.pem + ca.certPem, serial, notAfter: notAfter.toISOString() });
    } finally {
      if (claim) pendingPerClaim.set(claim.name, (pendingPerClaim.get(claim.name) ?? 1) - 1);
    }
  }

  const onPublish = (packet: { topic: string; payload: Buffer | string }, client: Client | null) => {
    if (!client) return; // our own messages (the audit feed, our responses)
    const topicCn = requestTopicCn(packet.topic);
    if (topicCn === null) return;
    const session = registry.sessions.get(client);
    if (!session || session.cause) return;
    if (busy.has(session)) {
      return refuse(session, null, 'LIMIT_EXCEEDED', 'one certificate request at a time per session');
    }
    busy.add(session);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    void handle(session, topicCn, payload)
      .catch((error) =>
        refuse(session, null, 'PROTOCOL_ERROR', `enrollment failed: ${(error as Error).message}`),
      )
      .finally(() => busy.delete(session));
  };
  broker.on('publish', onPublish as never);

  return {
    revokedPredecessor: (serial, isRevoked) => ledger.revokedPredecessor(serial, isRevoked),
    close() {
      broker.removeListener('publish', onPublish as never);
      ledger.close();
    },
  };
}
