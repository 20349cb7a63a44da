/**
 * The policy reloads live. The file is watched (fs.watch on its directory, so an editor's rename-over-save is seen,
 * plus a stat poll where watching is unreliable); every new version is validated first. A bad edit keeps the policy
 * in force and says so once in the audit (`policy-rejected`, POLICY_INVALID, with the file:line of the problem);
 * a good one replaces it (`policy-reloaded`) and is applied to the open sessions at once: a session whose CN lost
 * every entry is closed, one whose grant shrank keeps only the subscriptions the new grant covers.
 */
import type { Client } from 'aedes';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { isUserError } from '../core/user-error.ts';
import type { AuditRecord } from './audit-record.ts';
import { auditBase, type Session } from './authorization.ts';
import type { Policy } from './policy.ts';
import { parsePolicy } from './policy-load.ts';

export class PolicyWatcher {
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stamp = '';
  private text = '';
  private checking: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly file: string,
    private readonly onPolicy: (policy: Policy) => void,
    private readonly onInvalid: (problem: string) => void,
    private readonly pollMs = 250,
  ) {}

  async start(): Promise<void> {
    [this.stamp, this.text] = await Promise.all([this.stampOf(), readFile(this.file, 'utf8')]);
    try {
      this.watcher = watch(dirname(this.file), (_event, name) => {
        if (name === null || name === basename(this.file)) void this.check();
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

  /** Re-reads the file if its stat changed; concurrent triggers coalesce into one more check. */
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
    let stamp: string;
    let text: string;
    try {
      stamp = await this.stampOf();
      if (stamp === this.stamp) return;
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      // Mid-save (the file is briefly absent) or deleted: the policy in force stays; say it once per change.
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (this.stamp !== code)
        this.onInvalid(`${this.file}: cannot be read (${code}); the policy in force stays`);
      this.stamp = code;
      return;
    }
    this.stamp = stamp;
    if (text === this.text) return; // touched, not changed
    this.text = text;
    let policy: Policy;
    try {
      policy = parsePolicy(text, this.file);
    } catch (error) {
      this.onInvalid(isUserError(error) ? error.why.trim() : String((error as Error).message));
      return;
    }
    this.onPolicy(policy);
  }

  private async stampOf(): Promise<string> {
    const s = await stat(this.file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }
}

/**
 * Applies a new policy to the open sessions: a CN no entry grants any more is closed (UNKNOWN_IDENTITY); otherwise
 * the session gets the new grant (every later publish, subscribe and delivery is checked against it) and loses the
 * subscriptions it does not cover, each audited as `subscription-removed`.
 */
export function applyPolicyToSessions(
  policy: Policy,
  sessions: Iterable<Session>,
  audit: (record: Omit<AuditRecord, 'ts'>) => void,
): { closed: number; narrowed: number } {
  let closed = 0;
  let narrowed = 0;
  for (const session of sessions) {
    if (session.cause || session.info.cn === null) continue;
    const resolved = policy.resolve(session.info.cn);
    if ('refused' in resolved) {
      session.cause = 'UNKNOWN_IDENTITY';
      session.detail = `policy reloaded: ${resolved.refused}`;
      audit({
        event: 'grant-withdrawn',
        reason: 'UNKNOWN_IDENTITY',
        ...auditBase(session.info, session.clientId),
        detail: session.detail,
      });
      session.client.close();
      closed++;
      continue;
    }
    session.grant = resolved;
    const subscriptions = (session.client as Client & { subscriptions?: Record<string, unknown> })
      .subscriptions;
    const outside = Object.keys(subscriptions ?? {}).filter((filter) => !resolved.canSubscribe(filter));
    if (outside.length === 0) continue;
    narrowed++;
    session.client.unsubscribe({ unsubscriptions: outside } as never, () => {});
    for (const filter of outside) {
      audit({
        event: 'subscription-removed',
        reason: 'SUBSCRIBE_DENIED',
        ...auditBase(session.info, session.clientId),
        topic: filter,
        detail: 'policy reloaded: the filter is outside the new grant',
      });
    }
  }
  return { closed, narrowed };
}
