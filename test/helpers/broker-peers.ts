/** Independent peers for broker tests: openssl s_client, mosquitto_pub/sub — always asynchronous, since the
 * broker under test runs on this very event loop. */
import { spawn } from 'node:child_process';

export interface PeerResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runPeer(
  command: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; onStdout?: (text: string) => void } = {},
): { done: Promise<PeerResult>; kill(): void } {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onStdout?.(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const done = new Promise<PeerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
  return { done, kill: () => child.kill('SIGTERM') };
}

/** `openssl s_client` against the broker; it closes its side as soon as stdin ends. */
export function sClient(port: number, args: string[]): Promise<PeerResult> {
  return runPeer('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-brief', ...args]).done;
}
