/**
 * `certfleet check`: tests a broker's mTLS and ACL set-up against the rogue kit, judges each outcome against a
 * scenario, and answers with an exit code CI can use: 0 as expected, 1 some outcome differs, 2 the run could not
 * happen (broker unreachable, no TLS, not MQTT, every handshake refused, bad scenario or arguments).
 */
import { writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { stateDirOf, wholeNumber } from '../options.ts';
import { isUserError } from '../../core/user-error.ts';
import { xmlEscape } from '../../devices/check/junit.ts';
import { IDENTITY_SOURCES } from '../../pki/identity-san.ts';
import type { CheckCliOptions } from './check-run.ts';

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
      // The check kit and the embedded broker are loaded only when the command runs (check-run.ts): every other
      // command starts without them.
      const { builtinScenarioYaml, check } = await import('./check-run.ts');
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
