/**
 * Revocation across machines that share no file system: the node that sees its CRL bundle change on disk
 * (`certfleet pki revoke` ran next to it) stores the bundle in Redis and announces it; every other node checks the
 * signatures against its own copy of our CA certificates (crl-signature.ts) and only then cuts the sessions of the
 * newly revoked certificates. A bundle that fails the check is refused and audited; the node keeps the CRL it had.
 */
import type { X509Certificate } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AuditRecord } from '../audit-record.ts';
import { type CrlState, parseCrlBundle } from '../crl-watch.ts';
import { CrlRejected, type VerifiedCrl, verifyCrlBundle } from './crl-signature.ts';

export const CRL_KEY = 'certfleet:crl';
export const CRL_CHANNEL = 'certfleet:crl:changed';

export interface CrlShareHooks {
  readonly issuers: readonly X509Certificate[];
  /** The bundle the broker applies now. */
  current(): CrlState;
  /** Apply a verified bundle: new handshakes check it, open sessions of revoked serials are cut. */
  apply(state: CrlState): void;
  audit(record: Omit<AuditRecord, 'ts'>): void;
  warn(error: Error): void;
}

interface Announcement {
  node: string;
  pem: string;
}

export class CrlShare {
  constructor(
    private readonly db: Redis,
    private readonly control: Redis,
    private readonly nodeId: string,
    private readonly hooks: CrlShareHooks,
  ) {}

  /** Listen for announcements, then catch up with the stored bundle and offer ours if it is newer. */
  async start(): Promise<void> {
    this.control.on('message', (channel: string, message: string) => {
      if (channel !== CRL_CHANNEL) return;
      let announcement: Announcement;
      try {
        announcement = JSON.parse(message) as Announcement;
        if (typeof announcement.pem !== 'string' || typeof announcement.node !== 'string') throw new Error();
      } catch {
        this.refuse('?', new CrlRejected('the announcement is not {node, pem} JSON'));
        return;
      }
      if (announcement.node !== this.nodeId) this.receive(announcement.pem, announcement.node);
    });
    await this.control.subscribe(CRL_CHANNEL);
    await this.catchUp();
    await this.offer(this.hooks.current().pem);
  }

  /** Reads the stored bundle (at start, and after Redis was away: announcements made meanwhile were lost). */
  async catchUp(): Promise<void> {
    const stored = await this.db.get(CRL_KEY);
    if (stored !== null) this.receive(stored, 'the cluster store');
  }

  /** The local bundle changed on disk (trusted: our own PKI wrote it): share it if it is newer than the stored. */
  async offer(pem: string): Promise<void> {
    const mine = this.verifiedOrNull(pem, []);
    if (!mine) return; // an expired or half-made local bundle is not worth sharing
    const stored = await this.db.get(CRL_KEY);
    if (stored === pem) return;
    // A stored bundle at least as new as ours stays: a node with a stale PKI copy must not roll revocations back.
    if (stored !== null && this.verifiedOrNull(stored, mine) !== null) return;
    await this.db.set(CRL_KEY, pem);
    await this.db.publish(CRL_CHANNEL, JSON.stringify({ node: this.nodeId, pem } satisfies Announcement));
  }

  private receive(pem: string, from: string): void {
    const current = this.hooks.current();
    if (pem === current.pem) return;
    try {
      const applied = this.verifiedOrNull(current.pem, []) ?? [];
      verifyCrlBundle(pem, this.hooks.issuers, applied);
    } catch (error) {
      if (error instanceof CrlRejected) this.refuse(from, error);
      else this.hooks.warn(error as Error);
      return;
    }
    this.hooks.apply(parseCrlBundle(pem, this.hooks.issuers));
  }

  private refuse(from: string, error: CrlRejected): void {
    this.hooks.audit({
      event: 'crl-refused',
      reason: /signed|signature|algorithm/.test(error.message) ? 'UNKNOWN_CA' : 'PROTOCOL_ERROR',
      detail: `CRL bundle from ${from} refused, the current CRL stays: ${error.message}`,
    });
  }

  private verifiedOrNull(pem: string, floor: readonly VerifiedCrl[]): VerifiedCrl[] | null {
    try {
      return verifyCrlBundle(pem, this.hooks.issuers, floor);
    } catch {
      return null;
    }
  }
}
