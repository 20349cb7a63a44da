/**
 * JUnit XML for CI systems (GitHub Actions test reporters, GitLab `artifacts:reports:junit`, Jenkins): one testsuite
 * per check group, one testcase per check; a failure names what was expected and observed, a skip says why.
 */
import { describeExpected, describeObserved } from './report.ts';
import type { CheckReport, CheckResult } from './types.ts';

/** XML 1.0 cannot carry most control characters at all, even escaped: they are dropped. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

function testcase(result: CheckResult, suite: string): string {
  const open = `    <testcase classname="certfleet.check.${xmlEscape(suite)}" name="${xmlEscape(result.name)}" time="${seconds(result.durationMs)}"`;
  const detail = result.observed?.detail ?? '';
  if (result.status === 'pass')
    return `${open}>\n      <system-out>${xmlEscape(detail)}</system-out>\n    </testcase>`;
  if (result.status === 'skipped')
    return `${open}>\n      <skipped message="${xmlEscape(result.why ?? '')}"/>\n    </testcase>`;
  const message = `${result.name}: expected ${describeExpected(result.expected)}, observed ${describeObserved(result.observed)}`;
  return [
    `${open}>`,
    `      <failure message="${xmlEscape(message)}" type="${xmlEscape(result.observed?.outcome ?? 'unknown')}">${xmlEscape(
      `${result.why ?? ''}\n${detail}`,
    )}</failure>`,
    '    </testcase>',
  ].join('\n');
}

export function junitXml(report: CheckReport): string {
  const groups = new Map<string, CheckResult[]>();
  for (const result of report.results)
    groups.set(result.group, [...(groups.get(result.group) ?? []), result]);
  const count = (list: CheckResult[], status: CheckResult['status']) =>
    list.filter((result) => result.status === status).length;
  const suites = [...groups].map(([group, list]) => {
    const time = list.reduce((total, result) => Math.max(total, result.durationMs), 0);
    return [
      `  <testsuite name="${xmlEscape(group)}" tests="${list.length}" failures="${count(list, 'fail')}" errors="0" skipped="${count(list, 'skipped')}" time="${seconds(time)}" timestamp="${report.startedAt.slice(0, 19)}">`,
      ...list.map((result) => testcase(result, group)),
      '  </testsuite>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(`certfleet check: ${report.broker}`)}" tests="${report.totals.checks}" failures="${report.totals.failed}" errors="0" skipped="${report.totals.skipped}" time="${seconds(report.durationMs)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
