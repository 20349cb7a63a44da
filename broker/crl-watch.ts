/**
 * Live revocation: notices when the CRL bundle changes (`certfleet pki revoke` rewrites it atomically) through
 * fs.watch on the PKI directory, with a stat poll as the fallback for file systems where watching is unreliable.
 * The poll interval bounds the reaction time, so it stays well under the one second the broker promises.
 */
import type { X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import forge from 'node-forge';
import { readCrl } from '../pki/index.ts';
import { revocationKey } from './peer-certificate.ts';

export { revocationKey };

/** The DER of a certificate's subject, or of a CRL's issuer: how a CRL is matched to its CA. */
function nameDerOf(der: Buffer, field: 'certificate-subject' | 'crl-issuer'): string {
  const tbs = (forge.asn1.fromDer(der.toString('binary')).value as forge.asn1.Asn1[])[0]!
    .value as forge.asn1.Asn1[];
  const versioned =
    tbs[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC || tbs[0]!.type === forge.asn1.Type.INTEGER;
  const index = field === 'certificate-subject' ? (versioned ? 5 : 4) : versioned ? 2 : 1;
  return Buffer.from(forge.asn1.toDer(tbs[index]!).getBytes(), 'binary').toString('hex');
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

export interface CrlState {
  /** The bundle as read (both CRLs, PEM). */
  pem: string;
  /** One PEM per CRL: what the TLS context loads (Node reads only the first CRL of a single string). */
  crls: string[];
  /** Every revoked certificate of the bundle as `revocationKey(issuer, serial)`. */
  revoked: ReadonlySet<string>;
  /** Earliest nextUpdate of the bundle: past it, OpenSSL refuses everyone. */
  nextUpdate: Date;
}

/** `issuers`: our CA certificates, which name each CRL's issuer as peers' certificates do. */
export async function readCrlBundle(
  path: string,
  issuers: readonly X509Certificate[] = [],
): Promise<CrlState> {
  return parseCrlBundle(await readFile(path, 'utf8'), issuers);
}

/** A bundle already in memory (a cluster node receives it through Redis: broker/cluster/crl-share.ts). */
export function parseCrlBundle(pem: string, issuers: readonly X509Certificate[] = []): CrlState {
  const blocks = pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
  const caByName = new Map(
    issuers.map((ca) => [nameDerOf(ca.raw, 'certificate-subject'), ca.subject.split('\n').join(', ')]),
  );
  const revoked = new Set<string>();
  let nextUpdate = new Date(8640000000000000);
  for (const block of blocks) {
    const crl = readCrl(block);
    const issuerDer = nameDerOf(pemBody(block), 'crl-issuer');
    const issuer = caByName.get(issuerDer) ?? `unknown issuer ${issuerDer}`; // matches no peer: refuses no one
    for (const serial of crl.revokedSerials) revoked.add(revocationKey(issuer, serial));
    if (crl.nextUpdate < nextUpdate) nextUpdate = crl.nextUpdate;
  }
  return { pem, crls: blocks, revoked, nextUpdate };
}

export class CrlWatcher {
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stamp = '';
  private checking: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly path: string,
    private current: CrlState,
    private readonly onChange: (state: CrlState) => void,
    private readonly onError: (error: Error) => void,
    private readonly pollMs = 250,
    private readonly issuers: readonly X509Certificate[] = [],
  ) {}

  async start(): Promise<void> {
    this.stamp = await this.stampOf();
    try {
      this.watcher = watch(dirname(this.path), (_event, file) => {
        if (file === null || file === basename(this.path)) void this.check();
      });
      this.watcher.on('error', () => this.watcher?.close()); // the poll carries on
    } catch {
      // no fs.watch here: the poll alone
    }
    this.poll = setInterval(() => void this.check(), this.pollMs);
    this.poll.unref();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  /** Re-reads the bundle if its stat changed; concurrent triggers coalesce into one more check. */
  check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = this.reload().finally(() => {
      this.checking = null;
      if (this.again) {
        this.again = false;
        void this.check();
      }
    });
    return this.checking;
  }

  private async reload(): Promise<void> {
    try {
      const stamp = await this.stampOf();
      if (stamp === this.stamp) return;
      const next = await readCrlBundle(this.path, this.issuers);
      this.stamp = stamp;
      if (next.pem === this.current.pem) return;
      this.current = next;
      this.onChange(next);
    } catch (error) {
      this.onError(error as Error); // e.g. a half-made PKI: keep serving with the CRL we have
    }
  }

  private async stampOf(): Promise<string> {
    const s = await stat(this.path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }
}
