/**
 * The rogue table (core/rogues.ts), checked end to end: every rogue kind × TLS 1.2 / 1.3 × normal / strict broker
 * gets its exact reason at its exact ladder step — in the broker's audit, in `certfleet devices run --json` (a real
 * process with the embedded broker), and on the dashboard's ladder (the store and the Ladder component, rendered
 * with ink-testing-library). One PKI for the whole file. Prints the rogue × reason table it observed.
 */
import { cp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRecord, isInformativeRefusal, parseAuditRecord } from '../../core/audit.ts';
import { stepForReason, stepNumber } from '../../core/ladder.ts';
import { ROGUE_KINDS, ROGUES, type RogueInfo, type RogueKind } from '../../core/rogues.ts';
import type { DeviceResult } from '../../devices/device.ts';
import { generateRogueKit, initPki } from '../../pki/index.ts';
import { Ladder } from '../../ui/components/Ladder.tsx';
import { FleetStore } from '../../ui/store/fleet-store.ts';
import { CERTFLEET, makeStateDir, run } from '../helpers/pki-fixture.ts';

const COMBOS = [
  { tls: 'TLSv1.3', strict: false },
  { tls: 'TLSv1.3', strict: true },
  { tls: 'TLSv1.2', strict: false },
  { tls: 'TLSv1.2', strict: true },
] as const;
type Combo = (typeof COMBOS)[number];
const label = (combo: Combo) => `${combo.tls.slice(3)} ${combo.strict ? 'strict' : 'normal'}`;

interface Observed {
  results: Map<RogueKind, DeviceResult>;
  audit: AuditRecord[];
}

let stateDir: string;
let removeStateDir: () => Promise<void>;
let removeCopies: (() => Promise<unknown>) | undefined;
const observed = new Map<string, Observed>();
const table = new Map<RogueKind, Record<string, string>>();

/** `devices run --json` with every rogue kind; TLS 1.2 is forced on the whole process (broker and devices). */
async function devicesRun(combo: Combo, duration: string, stateDir: string): Promise<Observed> {
  const started = Date.now();
  const args = [
    CERTFLEET,
    '--state-dir',
    stateDir,
    'devices',
    'run',
    '--json',
    '--count',
    '1',
    '--duration',
    duration,
  ];
  args.push('--rogue', ROGUE_KINDS.join(','), ...(combo.strict ? ['--strict'] : []));
  const env = { ...process.env, ...(combo.tls === 'TLSv1.2' && { NODE_OPTIONS: '--tls-max-v1.2' }) };
  const outcome = await run(process.execPath, args, { env, timeout: 120_000 });
  expect(outcome.code, outcome.stderr).toBe(0);
  const summary = JSON.parse(outcome.stdout) as { results: DeviceResult[] };
  const results = new Map(
    summary.results.filter((result) => result.rogue).map((result) => [result.kind as RogueKind, result]),
  );
  const lines = (await readFile(join(stateDir, 'audit.jsonl'), 'utf8')).split('\n');
  const audit = lines
    .map((line) => parseAuditRecord(line))
    .filter((record): record is AuditRecord => record !== null && Date.parse(record.ts) >= started);
  return { results, audit };
}

/** The broker's verdict on the connection that ended the device (same TCP port, this run, informative). */
function brokerVerdict(records: AuditRecord[], result: DeviceResult): AuditRecord | undefined {
  return records.findLast((record) => record.peer?.port === result.localPort && isInformativeRefusal(record));
}

beforeAll(async () => {
  ({ dir: stateDir, cleanup: removeStateDir } = await makeStateDir('certfleet-verdicts-'));
  await initPki(stateDir);
  await generateRogueKit(stateDir);
  // The first run issues the fleet's identities; the others then run side by side, each on a copy of that state
  // dir: its own broker writes its own audit file. In one shared file, a record of another run's connection from
  // the same local port (a port is unique per destination, not per machine) was taken for this device's verdict.
  observed.set(label(COMBOS[0]), await devicesRun(COMBOS[0], '12s', stateDir));
  const copies = await Promise.all(
    COMBOS.slice(1).map(async (_, index) => {
      const copy = `${stateDir}-run-${index + 2}`;
      await cp(stateDir, copy, { recursive: true });
      return copy;
    }),
  );
  removeCopies = () => Promise.all(copies.map((copy) => rm(copy, { recursive: true, force: true })));
  // Strict mode needs four attempts per refused handshake (a bare close is ambiguous), with a backoff between.
  const rest = await Promise.all(
    COMBOS.slice(1).map((combo, index) => devicesRun(combo, '15s', copies[index] as string)),
  );
  for (const [index, combo] of COMBOS.slice(1).entries()) observed.set(label(combo), rest[index] as Observed);
}, 300_000);

afterAll(async () => {
  await removeCopies?.();
  await removeStateDir?.();
  const columns = COMBOS.map(label);
  const rows = ROGUE_KINDS.map((kind) => [
    kind,
    ...columns.map((column) => table.get(kind)?.[column] ?? '?'),
  ]);
  const header = ['rogue', ...columns.map((column) => `TLS ${column}`)];
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => row[index]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, index) => cell.padEnd(widths[index]!)).join(' | ')} |`;
  console.log([line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n'));
});

describe.each(COMBOS)('every rogue, TLS $tls, strict $strict', (combo) => {
  it.each(ROGUE_KINDS)('%s', (kind) => {
    const { results, audit } = observed.get(label(combo)) as Observed;
    const expected: RogueInfo['expected'] = ROGUES[kind].expected;
    const { reason, step, detail } = expected;
    const result = results.get(kind);
    const verdict = result && brokerVerdict(audit, result);
    const cell = `${result?.reason ?? '-'} @${result?.step ? stepNumber(result.step as never) : '-'}`;
    table.set(kind, { ...table.get(kind), [label(combo)]: cell });

    // devices run --json: the device's result, joined with the broker's verdict.
    expect({ kind, state: result?.state, reason: result?.reason, step: result?.step }).toEqual({
      kind,
      state: 'rejected',
      reason,
      step,
    });
    if (detail) expect(result?.detail).toContain(detail);

    // The broker's audit: refused with that reason on the device's own connection, over the TLS version asked for.
    // Only a key that does not fit (refused by the device's own TLS library) and the impostor broker (refused by
    // the device) never reach our broker.
    if (kind === 'wrong-key' || kind === 'impostor-broker') {
      expect(
        audit.filter((record) => record.peer?.port !== undefined && record.peer.port === result?.localPort),
      ).toEqual([]);
    } else {
      expect({
        kind,
        reason: verdict?.reason,
        step: verdict && stepForReason(verdict.reason as never),
      }).toEqual({
        kind,
        reason,
        step,
      });
      if (verdict?.tls) expect(verdict.tls).toBe(combo.tls);
    }
    if (result?.attempt?.tlsVersion) expect(result.attempt.tlsVersion).toBe(combo.tls);

    // The dashboard: the store reduces the fleet's events; the Ladder draws what the detail pane passes it.
    const store = new FleetStore({ frameMs: 0 });
    const at = Date.now();
    store.applyDeviceEvent({ type: 'added', device: { id: kind, kind, rogue: true }, at });
    if (result?.attempt) store.applyDeviceEvent({ type: 'ladder', id: kind, attempt: result.attempt, at });
    store.applyDeviceEvent({ type: 'rejected', id: kind, reason, step, detail: result?.detail ?? '', at });
    const device = store.devices.get(kind);
    const app = render(
      <Ladder
        attempt={device?.attempt}
        failedStep={device?.failedStep}
        reason={device?.reason}
        detail={device?.detail}
        width={100}
      />,
    );
    const lines = (app.lastFrame() ?? '').split('\n');
    app.unmount();
    const steps = lines.filter((text) => /^ [✓✗…-] \d /.test(text));
    const failed = steps.filter((text) => text.startsWith(' ✗'));
    expect(failed.map((text) => text.slice(3, 4))).toEqual([String(stepNumber(step))]);
    expect(lines[lines.indexOf(failed[0] as string) + 1]).toContain(`↳ ${reason}:`);
    for (const later of steps.slice(stepNumber(step))) expect(later).toMatch(/^ - .*not run$/);
    if (kind === 'wrong-key') expect(steps.slice(0, 3).every((text) => text.endsWith('not run'))).toBe(true);
  });
});
