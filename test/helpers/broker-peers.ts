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
  options: { input?: string; latin1?: boolean; timeoutMs?: number; onStdout?: (text: string) => void } = {},
): { done: Promise<PeerResult>; kill(): void } {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString(options.latin1 ? 'latin1' : 'utf8');
    options.onStdout?.(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // A peer that refuses early (mosquitto_pub with a rejected certificate) may exit before reading its stdin:
  // the resulting EPIPE is the peer's business, not an uncaught error of the test run.
  child.stdin.on('error', () => {});
  child.stdin.end(
    options.input === undefined ? '' : Buffer.from(options.input, options.latin1 ? 'latin1' : 'utf8'),
  );
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

/**
 * An MQTT CONNECT sent through `openssl s_client` (an independent TLS stack): resolves with the CONNACK return
 * code the broker answered, or null if the connection closed without one.
 */
export async function connectThroughSClient(
  port: number,
  clientId: string,
  args: string[],
): Promise<number | null> {
  const { default: mqttPacket } = await import('mqtt-packet');
  const connect = mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean: true,
    keepalive: 30,
  });
  return new Promise((resolve) => {
    let answered = false;
    const peer = runPeer(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-ign_eof', ...args],
      {
        input: connect.toString('latin1'),
        latin1: true,
        onStdout: (text) => {
          const at = text.indexOf('\u0020\u0002');
          if (at < 0 || text.length < at + 4 || answered) return;
          answered = true;
          resolve(text.charCodeAt(at + 3));
          peer.kill();
        },
      },
    );
    void peer.done.then(() => {
      if (!answered) resolve(null);
    });
  });
}
