/**
 * The policy reloads live. The file is watched (fs.watch on its directory, so an editor's rename-over-save is seen,
 * plus a stat poll where watching is unreliable); every new version is validated first. A bad edit keeps the policy
 * in force and says so once in the audit (`policy-rejected`, POLICY_INVALID, with the file:line of the problem);
 * a good one replaces it (`policy-reloaded`) and is applied to the open sessions at once: a session whose CN lost
 * every entry is closed, one whose grant shrank keeps only the subscriptions the new grant covers.
 */
import type { Client } from 'aedes';
import { readFile } from 'node:fs/promises';
import { isUserError } from '../core/user-error.ts';
import type { AuditRecord } from './audit-record.ts';
import { auditBase, type Session } from './authorization.ts';
import type { Policy } from './policy.ts';
import { PathWatcher } from './path-watch.ts';
import { parsePolicy } from './policy-load.ts';

export class PolicyWatcher {
  private readonly watcher: PathWatcher;
  private text = '';

  constructor(
    private readonly file: string,
    /** A valid new version of the file, and its text (a cluster node shares the text). */
    private readonly onPolicy: (policy: Policy, text: string) => void,
    private readonly onInvalid: (problem: string) => void,
    pollMs = 250,
  ) {
    this.watcher = new PathWatcher(file, () => this.reload(), pollMs);
  }

  async start(): Promise<void> {
    this.text = await readFile(this.file, 'utf8');
    await this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }

  /** Once per settled change of the file's stat (path-watch.ts). */
  private async reload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      // Deleted, or a directory now: the policy in force stays; said once per change.
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.onInvalid(`${this.file}: cannot be read (${code}); the policy in force stays`);
      return;
    }
    if (text === this.text) return; // touched, not changed
    this.text = text;
    let policy: Policy;
    try {
      policy = parsePolicy(text, this.file);
    } catch (error) {
      this.onInvalid(isUserError(error) ? error.why.trim() : String((error as Error).message));
      return;
    }
    this.onPolicy(policy, text);
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
