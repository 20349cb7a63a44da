/** Drives a real terminal for the dashboard's end-to-end test: a detached tmux session, keys in, screen text out. */
import { execFileSync } from 'node:child_process';

export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class TmuxSession {
  constructor(readonly name: string) {}

  static start(name: string, command: string, columns = 160, rows = 45): TmuxSession {
    execFileSync('tmux', [
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(columns),
      '-y',
      String(rows),
      command,
    ]);
    return new TmuxSession(name);
  }

  /** The visible screen as text (no colours); `joined`: lines the terminal wrapped are joined back (tmux -J). */
  capture(joined = false): string {
    try {
      const args = ['capture-pane', '-p', ...(joined ? ['-J'] : []), '-t', this.name];
      return execFileSync('tmux', args, { encoding: 'utf8' });
    } catch {
      return '';
    }
  }

  /** tmux key names: 'r', 'Down', 'Enter', 'End', 'C-c'… */
  keys(...keys: string[]): void {
    for (const key of keys) execFileSync('tmux', ['send-keys', '-t', this.name, key]);
  }

  /** Types text literally (no key-name lookup). */
  type(text: string): void {
    execFileSync('tmux', ['send-keys', '-t', this.name, '-l', text]);
  }

  async waitFor(expected: RegExp | ((screen: string) => boolean), timeoutMs: number): Promise<string> {
    const test = expected instanceof RegExp ? (screen: string) => expected.test(screen) : expected;
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.capture();
      if (test(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`timed out waiting for ${String(expected)}; screen:\n${screen}`);
  }

  kill(): void {
    try {
      execFileSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of processes whose command line contains `text` (pgrep -f). */
export function processesMatching(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
