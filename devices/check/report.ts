/** The report card: one line per check (✓/✗/–, expected, observed with its reason and ladder step), then totals. */
import { stepLabel } from './judge.ts';
import type { CheckReport, CheckResult, Expectation, Observation } from './types.ts';

const MARK = { pass: '✓', fail: '✗', skipped: '–' } as const;

export function describeExpected(expected: Expectation): string {
  const parts: string[] = [expected.outcome];
  if (expected.reasons) parts.push(expected.reasons.join('|'));
  if (expected.step) parts.push(`at ${stepLabel(expected.step)}`);
  if (expected.withinMs !== undefined) parts.push(`within ${expected.withinMs / 1000} s`);
  return parts.join(' ');
}

export function describeObserved(observed: Observation | undefined): string {
  if (!observed) return 'not run';
  const parts: string[] = [observed.outcome];
  if (observed.reason && observed.reason !== 'OK') parts.push(observed.reason);
  if (observed.step && observed.outcome !== 'online') parts.push(`at ${stepLabel(observed.step)}`);
  return parts.join(' ');
}

export function reportHeader(broker: string, scenario: string, identityFrom = 'cn'): string {
  const identity =
    identityFrom === 'cn'
      ? ''
      : `  identity: from the certificate's ${identityFrom === 'san-dns' ? 'SAN DNS name' : 'SAN URI'}\n`;
  return `certfleet check against ${broker}\n  scenario: ${scenario}\n${identity}`;
}

/** One line of the card, plus an indented line with the detail (and the mismatch, or why it was skipped). */
export function reportLine(result: CheckResult, nameWidth = 28): string {
  const name = result.name.padEnd(nameWidth);
  const expected = `expected ${describeExpected(result.expected)}`.padEnd(30);
  const observed = result.status === 'skipped' ? 'skipped' : `observed ${describeObserved(result.observed)}`;
  const lines = [`${MARK[result.status]} ${name} ${expected} ${observed}`];
  if (result.status === 'skipped') lines.push(`    why: ${result.why}`);
  else {
    const source = result.observed?.explainedBy === 'broker-audit' ? ' [broker audit]' : '';
    lines.push(`    ${result.observed?.detail ?? ''}${source}`);
    if (result.status === 'fail') lines.push(`    ✗ ${result.why}`);
  }
  return lines.join('\n');
}

export function reportTotals(report: CheckReport): string {
  const { checks, passed, failed, skipped } = report.totals;
  const failures = report.results.filter((result) => result.status === 'fail').map((result) => result.name);
  return [
    '',
    `${checks} checks: ${passed} passed, ${failed} failed, ${skipped} skipped in ${(report.durationMs / 1000).toFixed(1)} s`,
    ...(failures.length > 0 ? [`failed: ${failures.join(', ')}`] : []),
    `exit code ${report.exitCode}: ${report.exitCode === 0 ? 'every outcome as expected' : 'some outcomes differ from the scenario'}`,
  ].join('\n');
}

export function formatReport(report: CheckReport): string {
  return [
    reportHeader(report.broker, report.scenario, report.identityFrom),
    ...report.results.map((result) => reportLine(result)),
    reportTotals(report),
  ].join('\n');
}
