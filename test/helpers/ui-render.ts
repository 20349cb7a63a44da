/**
 * Helpers for the dashboard's component tests: wait for a frame to contain something, a fake FleetControls that
 * records calls, and DeviceEvent builders. The fake never stands in for the real fleet outside tests.
 */
import { EventEmitter } from 'node:events';
import { render as inkRender } from 'ink';
import type { ReactElement } from 'react';
import type { DeviceEvent, HandshakeAttempt, LadderStepName } from '../../devices/events.ts';
import { LADDER_STEPS } from '../../devices/events.ts';
import type { Reason } from '../../core/reasons.ts';
import type { CertificateSummary, FleetControls } from '../../ui/controls.ts';

/**
 * ink-testing-library's terminal is 100 columns with no rows (the dashboard then assumes 24): renderAt gives the App a
 * terminal of any size, e.g. 80×24, with the same lastFrame()/stdin.write() interface.
 */
class SizedStdout extends EventEmitter {
  readonly isTTY = true;
  private frame = '';
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frame = frame;
    return true;
  };
  lastFrame = () => this.frame;
}

class TestStdin extends EventEmitter {
  readonly isTTY = true;
  private data: string | null = null;
  write = (data: string) => {
    this.data = data;
    this.emit('readable');
  };
  read = () => {
    const { data } = this;
    this.data = null;
    return data;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

export function renderAt(tree: ReactElement, columns: number, rows: number) {
  const stdout = new SizedStdout(columns, rows);
  const stdin = new TestStdin();
  const instance = inkRender(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return { lastFrame: stdout.lastFrame, stdin, unmount: instance.unmount };
}

// Ink writes ANSI colour codes; tests compare text.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
export function plain(frame: string | undefined): string {
  return (frame ?? '').replace(ANSI, '');
}

/** Polls `lastFrame()` until `predicate` holds (or the text is contained); returns the matching frame. */
export async function waitForContent(
  lastFrame: () => string | undefined,
  expected: string | RegExp | ((frame: string) => boolean),
  timeoutMs = 5000,
): Promise<string> {
  const test =
    typeof expected === 'function'
      ? expected
      : typeof expected === 'string'
        ? (frame: string) => frame.includes(expected)
        : (frame: string) => expected.test(frame);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = plain(lastFrame());
    if (test(frame)) return frame;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${String(expected)}; last frame:\n${frame}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface FakeControls extends FleetControls {
  calls: string[];
}

export function fakeControls(certificates: Record<string, CertificateSummary | null> = {}): FakeControls {
  const calls: string[] = [];
  let next = 100;
  return {
    calls,
    async addDevices(profile, count) {
      calls.push(`add ${count} ${profile}`);
      return Array.from({ length: count }, () => `sensor-${next++}`);
    },
    async addRogue(kind) {
      calls.push(`rogue ${kind}`);
      return `rogue-${kind}`;
    },
    async remove(id) {
      calls.push(`remove ${id}`);
    },
    async setPaused(id, paused) {
      calls.push(`${paused ? 'pause' : 'resume'} ${id}`);
    },
    async sendCommand(id, command) {
      calls.push(`command ${id} ${command}`);
    },
    async revoke(id) {
      calls.push(`revoke ${id}`);
    },
    async certificate(id) {
      return certificates[id] ?? null;
    },
    async connection(id) {
      return {
        host: '127.0.0.1',
        port: 8883,
        clientId: id,
        ca: '/pki/root/ca.crt',
        cert: `/pki/${id}/chain.pem`,
        key: `/pki/${id}/key.pem`,
      };
    },
    async quit() {
      calls.push('quit');
    },
  };
}

export function added(id: string, kind = 'climate', rogue = false, at = Date.now()): DeviceEvent {
  return { type: 'added', device: { id, kind, rogue }, at };
}

export function online(id: string, at = Date.now()): DeviceEvent {
  return { type: 'state', id, state: 'online', previous: 'mqtt-connect', at };
}

/** An attempt that passed every step before `failedStep` and failed there with `reason`. */
export function failedAttempt(failedStep: LadderStepName, reason: Reason, detail?: string): HandshakeAttempt {
  const failedAt = LADDER_STEPS.indexOf(failedStep);
  return {
    attempt: 1,
    startedAt: 0,
    tlsVersion: 'TLSv1.3',
    steps: LADDER_STEPS.map((step, index) => {
      if (index < failedAt) return { step, status: 'ok', ms: index + 1 };
      if (index === failedAt) return { step, status: 'failed', ms: 4, reason, detail };
      return { step, status: 'skipped' };
    }),
  };
}

export const KEYS = {
  up: '\u001B[A',
  down: '\u001B[B',
  pageDown: '\u001B[6~',
  pageUp: '\u001B[5~',
  home: '\u001B[H',
  end: '\u001B[F',
  enter: '\r',
  escape: '\u001B',
  tab: '\t',
  ctrlC: '\u0003',
} as const;
