/**
 * `certfleet check`, the run itself (check.ts registers the command and its options). Its own module, imported only
 * when the command runs, so that the other commands start without loading the check kit and the embedded broker.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UserError } from '../../core/user-error.ts';
import { startBroker } from '../../broker/index.ts';
import { brokerAuditExplainer } from '../../devices/index.ts';
import {
  builtinScenario,
  type CheckReport,
  junitXml,
  loadScenario,
  reportHeader,
  reportLine,
  reportTotals,
  runCheck,
} from '../../devices/check/index.ts';
import { ensurePki } from '../../pki/index.ts';
import { readExternalCa } from '../../pki/import-ca.ts';
import type { IdentitySource } from '../../pki/identity-san.ts';
import { keylessLimits } from '../../devices/check/keyless.ts';
import { parseBrokerUrl } from './devices.ts';

export { builtinScenarioYaml } from '../../devices/check/index.ts';

export interface CheckCliOptions {
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

export async function check(stateDir: string, options: CheckCliOptions): Promise<CheckReport> {
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
