/**
 * Live revocation: notices when the CRL bundle changes (`certfleet pki revoke` rewrites it atomically) through
 * fs.watch on the PKI directory, with a stat poll as the fallback for file systems where watching is unreliable.
 * The poll interval bounds the reaction time, so it stays well under the one second the broker promises.
 *
 * The watcher only notices; what a change means is crl-guard.ts's business (verify, use or reject). It calls
 * `onChange` once per new stat of the path — a missing file or a directory is a stat too — so a bad file is judged
 * once, not on every poll.
 */
import type { X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/**
 * Reads a bundle WITHOUT verifying it (benchmarks only: bench/broker-gate.ts). The broker goes through
 * crl-verify.ts. `issuers`: our CA certificates, which name each CRL's issuer as peers' certificates do.
 */
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

/** How long the path must stay the same before a change is judged. */
const SETTLE_MS = 40;

export class CrlWatcher {
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stamp = '';
  private checking: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly path: string,
    /** Called once per change of the path's stat (content, inode, or kind of thing there). */
    private readonly onChange: () => Promise<void>,
    private readonly pollMs = 250,
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

  /** Looks at the path's stat; concurrent triggers coalesce into one more check. */
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
    let stamp = await this.stampOf();
    if (stamp === this.stamp) return;
    // Let the path settle: `rm` then `mkdir`, or a writer that truncates and then writes, is one change, not two
    // (and a half-written file is never judged).
    for (let settled = 0; settled < 20; settled++) {
      await sleep(SETTLE_MS);
      const again = await this.stampOf();
      if (again === stamp) break;
      stamp = again;
    }
    this.stamp = stamp;
    await this.onChange();
  }

  /** Never throws: a missing path or an unreadable one is a state of its own, judged once. */
  private async stampOf(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.isDirectory() ? 'dir' : 'file'}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (error) {
      return `error:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  }
}
