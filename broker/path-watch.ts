/**
 * Notices when a file the broker depends on changes (the CRL bundle, the policy): fs.watch on its directory — so an
 * editor's or `pki revoke`'s rename-over-save is seen — plus a stat poll where watching is unreliable. The poll
 * interval bounds the reaction time.
 *
 * It only notices: `onChange` runs once per new, settled stat of the path (a missing file or a directory is a stat
 * too), so a bad file is judged once, never on every poll. What a change means is the caller's business.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Files up to this size are told apart by content too (a CRL bundle or a policy is a few KB). */
const MAX_DIGEST_BYTES = 1024 * 1024;

/** How long the path must stay the same before a change is judged. */
const SETTLE_MS = 40;

export class PathWatcher {
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
      if (s.isDirectory()) return `dir:${s.ino}:${s.mtimeMs}`;
      // The stat alone can repeat across two quick atomic replaces (a freed inode number reused, the same size, the
      // same mtime tick) and a change would then never be judged — for a CRL, a revocation missed. The digest of
      // the content (a few KB, read once per poll) makes that impossible.
      const digest =
        s.size <= MAX_DIGEST_BYTES
          ? createHash('sha256')
              .update(await readFile(this.path))
              .digest('base64')
          : '';
      return `file:${s.ino}:${s.size}:${s.mtimeMs}:${digest}`;
    } catch (error) {
      return `error:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  }
}
