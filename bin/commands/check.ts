/**
 * `certfleet check`: tests a broker's mTLS and ACL set-up against the rogue kit, judges each outcome against a
 * scenario, and answers with an exit code CI can use: 0 as expected, 1 some outcome differs, 2 the run could not
 * happen (broker unreachable, no TLS, not MQTT, every handshake refused, bad scenario or arguments).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { stateDirOf, wholeNumber } from '../options.ts';
import { isUserError, UserError } from '../../core/user-error.ts';
import { startBroker } from '../../broker/index.ts';
import { brokerAuditExplainer } from '../../devices/index.ts';
import {
  builtinScenario,
  builtinScenarioYaml,
  type CheckReport,
  junitXml,
  loadScenario,
  reportHeader,
  reportLine,
  reportTotals,
  runCheck,
} from '../../devices/check/index.ts';
import { xmlEscape } from '../../devices/check/junit.ts';
import { ensurePki } from '../../pki/index.ts';
import { readExternalCa } from '../../pki/import-ca.ts';
import { IDENTITY_SOURCES, type IdentitySource } from '../../pki/identity-san.ts';
import { keylessLimits } from '../../devices/check/keyless.ts';
import { parseBrokerUrl } from './devices.ts';

interface CheckCliOptions {
  broker?: string;
  ca?: string;
  scenario?: string;
  junit?: string;
  json?: boolean;
  printScenario?: boolean;
  username?: string;
  passwordFile?: string;
  strict?: boolean;
  workers?: number;
  identityFrom: IdentitySource;
}

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description(
      "test a broker's mTLS and ACL set-up against the rogue kit: expected outcomes, a report card, a CI exit code",
    )
    .option('--broker <url>', 'the broker to test (mqtts://host:port); default: our embedded broker')
    .option('--ca <file>', 'the CA that signed the broker certificate (default: our PKI root)')
    .option('--scenario <file>', 'YAML scenario: devices, rogues and behaviour checks with expected outcomes')
    .option('--junit <file>', 'also write JUnit XML (one testcase per check) for CI')
    .option('--json', 'print the report as JSON instead of the report card')
    .option('--print-scenario', 'print the built-in scenario (a start for your own) and exit')
    .addOption(
      new Option(
        '--identity-from <source>',
        'where the broker takes a device identity from (certificates carry it there too)',
      )
        .choices([...IDENTITY_SOURCES])
        .default('cn'),
    )
    .option('--username <name>', 'MQTT username, if the broker demands one besides the certificate')
    .option('--password-file <file>', 'file holding the MQTT password (never on the command line)')
    .option('--strict', 'embedded broker: close right after a refused handshake instead of CONNACK 5')
    .option(
      '--workers <n>',
      'worker threads for the connection checks (default 2)',
      wholeNumber('--workers', 1, 64),
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 every outcome as expected · 1 some outcome differs · 2 the run could not happen (reason on stderr)

Examples:
  $ certfleet check                                   the built-in scenario against our embedded broker
  $ certfleet check --broker mqtts://localhost:8883 --ca broker-ca.pem --junit check.xml
  $ certfleet check --print-scenario > my-broker.yaml   then edit, and:
  $ certfleet check --broker mqtts://broker.lan:8883 --scenario my-broker.yaml --json`,
    )
    .action(async (options: CheckCliOptions, command: Command) => {
      if (options.printScenario) {
        process.stdout.write(builtinScenarioYaml());
        return;
      }
      try {
        const report = await check(stateDirOf(command), options);
        process.exitCode = report.exitCode;
      } catch (error) {
        // A bad scenario is a run that could not happen too (exit 2), like an unreachable broker (CheckImpossible).
        if (!isUserError(error)) throw error;
        process.stderr.write(`${error.format()}\n`);
        if (options.junit) await writeFile(options.junit, impossibleJunit(error.message));
        process.exitCode = 2;
      }
    });
}

async function check(stateDir: string, options: CheckCliOptions): Promise<CheckReport> {
  const scenario = options.scenario ? await loadScenario(resolve(options.scenario)) : builtinScenario();
  const ca = options.ca ? resolve(options.ca) : undefined;
  if (ca && !existsSync(ca)) throw new UserError('cannot read --ca', `${ca} does not exist`);
  const password = options.passwordFile ? await readPassword(resolve(options.passwordFile)) : undefined;
  const workers = options.workers;
  const layout = await ensurePki(stateDir);
  // A CA we hold only the certificate of: run what needs no CA key, skip the rest and say why.
  const external = await readExternalCa(layout);
  const keyless = external ? keylessLimits(external) : undefined;
  const address = options.broker ? parseBrokerUrl(options.broker) : undefined;
  const broker = address
    ? undefined
    : await startBroker({ stateDir, port: 0, ...(options.strict && { strict: true }) });
  broker?.on('warning', () => {});
  const brokerName = broker ? `${broker.url} (embedded broker)` : (options.broker as string);
  const auditFile = resolve(layout.stateDir, 'audit.jsonl');
  const explain = brokerAuditExplainer({ auditFile, ...(broker && { broker }) });
  const live = !options.json;
  if (live)
    process.stdout.write(
      `${reportHeader(brokerName, scenario.name ? `${scenario.name} (${scenario.source})` : scenario.source, options.identityFrom)}\n`,
    );
  try {
    const report = await runCheck({
      stateDir,
      broker: address ?? { host: '127.0.0.1', port: broker?.port ?? 0 },
      brokerName,
      ...((ca ?? keyless?.ca) && { ca: ca ?? keyless?.ca }),
      ...(keyless && { unavailable: keyless.unavailable, credentialOverrides: keyless.credentialOverrides }),
      scenario,
      explain,
      identityFrom: options.identityFrom,
      ...(options.username !== undefined && { username: options.username }),
      ...(password !== undefined && { password }),
      ...(workers !== undefined && { workers }),
      ...(live && { onResult: (result) => process.stdout.write(`${reportLine(result)}\n`) }),
    });
    if (options.junit) await writeFile(options.junit, junitXml(report));
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${reportTotals(report)}\n`);
    return report;
  } finally {
    explain.close();
    await broker?.close();
  }
}

async function readPassword(file: string): Promise<string> {
  try {
    // One trailing newline is the file's, not the password's (echo secret > file).
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw new UserError('cannot read --password-file', `${file}: ${(error as Error).message}`);
  }
}

/** A CI system should show a run that could not happen as an error, not as "no tests". */
function impossibleJunit(message: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuites name="certfleet check" tests="1" failures="0" errors="1" skipped="0">',
    '  <testsuite name="run" tests="1" failures="0" errors="1" skipped="0">',
    `    <testcase classname="certfleet.check.run" name="the run itself"><error message="${xmlEscape(message)}"/></testcase>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
