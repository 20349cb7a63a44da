/**
 * Starts the fleet host (fleet-host.ts) as a child process and gives the UI process FleetControls over it, plus the
 * messages it pushes. The host's stderr is kept (its last lines say why, if it dies).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RogueKind } from '../../core/rogues.ts';
import type { DeviceProfile } from '../../devices/events.ts';
import type { ConnectionInfo } from '../connect-commands.ts';
import type { CertificateSummary, FleetControls } from '../controls.ts';
import { stopChild } from '../../core/stop-child.ts';
import type { HostMessage, HostStart } from './fleet-host.ts';
import { childChannel, type RpcClient, rpcClient } from './worker-rpc.ts';

const ENTRY = fileURLToPath(new URL('./ts-child-entry.js', import.meta.url));
const HOST = new URL('./fleet-host.ts', import.meta.url).href;

export interface FleetHost {
  child: ChildProcess;
  /** Plans and starts the demo fleet; resolves to the devices' ids. */
  start(options: HostStart): Promise<string[]>;
  /** FleetControls over the host (quit is the caller's). */
  controls(quit: () => Promise<void>): FleetControls;
  /** The host's last lines on stderr. */
  lastWords(): string[];
  /** Stops the devices cleanly, then the process (killed if it lingers); resolves when it has exited. */
  stop(): Promise<void>;
}

export function startFleetHost(
  stateDir: string,
  onMessage: (message: HostMessage) => void,
  timeoutMs = 60_000,
): Promise<FleetHost> {
  const child = fork(ENTRY, [HOST, '--state-dir', stateDir], {
    serialization: 'advanced', // structured clone, as between worker threads
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
  });
  const rpc: RpcClient = rpcClient(childChannel(child));
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stopChild(child);
      reject(new Error(`the fleet host ${why}${stderrTail.length ? `: ${stderrTail.at(-1)}` : ''}`));
    };
    // Loading the fleet's modules has taken tens of seconds on a loaded machine.
    const timer = setTimeout(() => fail('did not start in time'), timeoutMs);
    const exited = (code: number | null, signal: string | null) =>
      fail(`exited (${signal ?? `code ${code}`})`);
    child.once('exit', exited);
    child.once('error', (error) => fail(error.message));
    child.on('message', (message: HostMessage | { type: 'ready' } | { rpc: number }) => {
      if ('rpc' in message) return;
      if (message.type !== 'ready') return onMessage(message);
      clearTimeout(timer);
      child.off('exit', exited);
      resolve(hostOver(child, rpc, () => [...stderrTail]));
    });
  });
}

function hostOver(child: ChildProcess, rpc: RpcClient, lastWords: () => string[]): FleetHost {
  let stopping: Promise<void> | undefined;
  return {
    child,
    lastWords,
    start: (options) => rpc.call<string[]>('start', options),
    controls: (quit) => new HostControls(rpc, quit),
    stop() {
      stopping ??= (async () => {
        // Clean DISCONNECTs first (bounded), then the process itself.
        await Promise.race([rpc.call('stop').catch(() => undefined), delay(5000)]);
        await stopChild(child);
      })();
      return stopping;
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

class HostControls implements FleetControls {
  constructor(
    private readonly rpc: RpcClient,
    private readonly quitNow: () => Promise<void>,
  ) {}
  addDevices(profile: DeviceProfile, count: number): Promise<string[]> {
    return this.rpc.call('addDevices', profile, count);
  }
  addRogue(kind: RogueKind): Promise<string> {
    return this.rpc.call('addRogue', kind);
  }
  remove(id: string): Promise<void> {
    return this.rpc.call('remove', id);
  }
  setPaused(id: string, paused: boolean): Promise<void> {
    return this.rpc.call('setPaused', id, paused);
  }
  sendCommand(id: string, command: string): Promise<void> {
    return this.rpc.call('sendCommand', id, command);
  }
  revoke(id: string): Promise<void> {
    return this.rpc.call('revoke', id);
  }
  certificate(id: string): Promise<CertificateSummary | null> {
    return this.rpc.call('certificate', id);
  }
  connection(id: string): Promise<ConnectionInfo | null> {
    return this.rpc.call('connection', id);
  }
  quit(): Promise<void> {
    return this.quitNow();
  }
}
