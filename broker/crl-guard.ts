/**
 * Revocation that never fails open. The broker uses a CRL bundle only after verifying it (crl-verify.ts); a bad one
 * — garbage, empty, missing, a directory, corrupt base64, forged, not yet valid, expired, or older than what was
 * seen — leaves the last good CRL in force, is audited once as `crl-rejected` / CRL_REJECTED with the reason, and
 * raises one warning (the watcher re-evaluates only when the file changes, never per poll).
 *
 * At start there is no "last good" in memory: the bundle must verify, or the broker starts from the last good
 * bundle it saved in the state dir (only if that is still valid and not older than the CA's index), or it refuses
 * to start with one line saying why. An expired CRL is re-signed on the spot when the CA keys are here; without
 * them, once the CRL in force expires, every device is refused and the audit says so, loudly, once.
 */
import type { X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { UserError } from '../core/user-error.ts';
import { CrlProblem, pkiLayout, refreshCrlsIfDue, resignCrls } from '../pki/index.ts';
import type { PkiLayout } from '../pki/types.ts';
import type { AuditRecord } from './audit-record.ts';
import { PathWatcher } from './path-watch.ts';
import {
  type CrlAuthorities,
  type CrlFloor,
  type VerifiedCrl,
  authoritiesOf,
  verifyCrlBundle,
} from './crl-verify.ts';

type Audit = (record: Omit<AuditRecord, 'ts'>) => void;

/** The lowest CRL numbers the CA's index says it has signed (0 when there is no readable index here). */
async function indexFloor(layout: PkiLayout): Promise<CrlFloor> {
  try {
    const index = JSON.parse(await readFile(layout.index, 'utf8')) as {
      crls?: { root?: { number?: number }; issuing?: { number?: number } };
    };
    return { root: index.crls?.root?.number ?? 0, issuing: index.crls?.issuing?.number ?? 0 };
  } catch {
    return { root: 0, issuing: 0 };
  }
}

/** A read or verification failure in words: missing file, a directory, or what is wrong with the CRL. */
function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'the file is missing';
  if (code === 'EISDIR') return 'the path is a directory, not a file';
  if (error instanceof CrlProblem) return error.message;
  return (error as Error).message;
}

const isExpiry = (error: unknown) => error instanceof CrlProblem && error.kind === 'expired';

export class CrlGuard {
  private expiryTimer: NodeJS.Timeout | null = null;
  private audit: Audit = () => {};
  private warn: (error: Error) => void = () => {};
  private onChange: (state: VerifiedCrl) => void = () => {};

  private constructor(
    private readonly stateDir: string,
    private readonly layout: PkiLayout,
    private readonly cas: CrlAuthorities,
    private current: VerifiedCrl,
    /** Why the broker started from the saved last good CRL instead of the bundle (said once the audit runs). */
    private readonly startProblem: string | null,
  ) {}

  get state(): VerifiedCrl {
    return this.current;
  }

  /** The CRL to start with; never open: a UserError when there is no usable CRL at all. */
  static async open(stateDir: string, issuers: readonly X509Certificate[]): Promise<CrlGuard> {
    const layout = pkiLayout(stateDir);
    const cas = authoritiesOf(issuers);
    await refreshCrlsIfDue(stateDir).catch(() => undefined); // near expiry and the keys are here: re-sign first
    const load = async (path: string) =>
      verifyCrlBundle(await readFile(path, 'utf8'), cas, await indexFloor(layout), null);
    let problem: string;
    try {
      return await CrlGuard.started(stateDir, layout, cas, await load(layout.crlBundle), null);
    } catch (error) {
      problem = describe(error);
      if (isExpiry(error) && (await keysHeld(layout))) {
        try {
          await resignCrls(stateDir);
          return await CrlGuard.started(stateDir, layout, cas, await load(layout.crlBundle), null);
        } catch (again) {
          problem += `; re-signing it failed: ${describe(again)}`;
        }
      }
    }
    let fallback: string;
    try {
      const lastGood = await load(layout.lastGoodCrl);
      return await CrlGuard.started(
        stateDir,
        layout,
        cas,
        lastGood,
        `${layout.crlBundle}: ${problem}; started from the last good CRL (${layout.lastGoodCrl}, numbers root ${lastGood.numbers.root} / issuing ${lastGood.numbers.issuing})`,
      );
    } catch (error) {
      fallback = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is none' : describe(error);
    }
    throw new UserError(
      'cannot start the broker: no usable CRL',
      `${layout.crlBundle}: ${problem} (last good copy: ${fallback})`,
      'Without a CRL the broker would admit revoked devices. Re-sign the CRLs where the CA keys are (`certfleet pki crl`) and start again.',
    );
  }

  private static async started(
    stateDir: string,
    layout: PkiLayout,
    cas: CrlAuthorities,
    state: VerifiedCrl,
    startProblem: string | null,
  ): Promise<CrlGuard> {
    if (startProblem === null) await saveLastGood(layout, state);
    return new CrlGuard(stateDir, layout, cas, state, startProblem);
  }

  /** Starts watching the bundle: each change is verified; `onChange` hears only good ones. */
  watch(options: {
    onChange: (state: VerifiedCrl) => void;
    audit: Audit;
    warn: (error: Error) => void;
    pollMs?: number;
  }): { start(): Promise<void>; stop(): void; announce(): void } {
    this.onChange = options.onChange;
    this.audit = options.audit;
    this.warn = options.warn;
    const watcher = new PathWatcher(this.layout.crlBundle, () => this.evaluate(), options.pollMs);
    return {
      start: async () => {
        this.scheduleExpiry();
        await watcher.start();
      },
      // Called as startBroker returns: whoever started the broker subscribes to 'audit' and 'warning' then, and
      // a start-up problem said before that would reach the audit file but not the operator's terminal.
      announce: () => {
        const problem = this.startProblem;
        if (problem) setImmediate(() => this.reject(problem));
      },
      stop: () => {
        watcher.stop();
        if (this.expiryTimer) clearTimeout(this.expiryTimer);
        this.expiryTimer = null;
      },
    };
  }

  /** The bundle changed on disk: use it if it verifies, else say why once and keep the CRL in force. */
  private async evaluate(): Promise<void> {
    const path = this.layout.crlBundle;
    try {
      const floor = await indexFloor(this.layout); // read before the bundle: the CA writes the bundle first
      const next = verifyCrlBundle(await readFile(path, 'utf8'), this.cas, floor, this.current);
      if (next.pem === this.current.pem) return;
      this.current = next;
      await saveLastGood(this.layout, next).catch((error: Error) => this.warn(error));
      this.scheduleExpiry();
      this.onChange(next);
    } catch (error) {
      let problem = `${path}: ${describe(error)}`;
      if (isExpiry(error) && (await keysHeld(this.layout))) {
        // Said at once: the decision does not wait on the disk. The re-sign takes the PKI lock and fsyncs the CRLs
        // and the index, which on a busy disk took longer than an operator (or a test) waits for the verdict.
        const detail = `${problem}; re-signing it from the CA's index (this broker holds the CA key)`;
        this.audit({ event: 'crl-rejected', reason: 'CRL_REJECTED', detail });
        this.warn(new Error(`CRL rejected: ${detail}`));
        try {
          await resignCrls(this.stateDir); // the watcher sees the new bundle and loads it
          return;
        } catch (again) {
          problem += `; re-signing it failed: ${describe(again)}`;
        }
      }
      this.reject(problem);
    }
  }

  private reject(problem: string): void {
    const { root, issuing } = this.current.numbers;
    const detail = `${problem}; keeping the CRL in force (numbers root ${root} / issuing ${issuing}, valid until ${this.current.nextUpdate.toISOString()})`;
    this.audit({ event: 'crl-rejected', reason: 'CRL_REJECTED', detail });
    this.warn(new Error(`CRL rejected: ${detail}`));
  }

  /** When the CRL in force reaches its nextUpdate: re-sign if we can, else refuse everyone and say so once. */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const due = this.current.nextUpdate.getTime() - Date.now();
    this.expiryTimer = setTimeout(() => void this.expired(), Math.max(0, Math.min(due, 2 ** 31 - 1)));
    this.expiryTimer.unref();
  }

  private async expired(): Promise<void> {
    if (this.current.nextUpdate.getTime() > Date.now()) return this.scheduleExpiry(); // a long timer woke early
    if (await keysHeld(this.layout)) {
      try {
        await resignCrls(this.stateDir);
        return;
      } catch {
        // fall through: say it
      }
    }
    const detail = `the CRL in force expired at ${this.current.nextUpdate.toISOString()} and this broker cannot re-sign it (no CA key here): EVERY device is refused until a fresh CRL is installed — run \`certfleet pki crl\` where the CA keys are`;
    this.audit({ event: 'crl-rejected', reason: 'CRL_REJECTED', detail });
    this.warn(new Error(detail));
  }
}

async function keysHeld(layout: PkiLayout): Promise<boolean> {
  const readable = (path: string) =>
    access(path, constants.R_OK).then(
      () => true,
      () => false,
    );
  return (await readable(layout.rootKey)) && (await readable(layout.issuingKey));
}

async function saveLastGood(layout: PkiLayout, state: VerifiedCrl): Promise<void> {
  await writeFileAtomic(layout.lastGoodCrl, state.pem);
}
