import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ROGUES } from '../../core/rogues.ts';
import { UserError } from '../../core/user-error.ts';
import { parseValidity } from '../../core/validity.ts';
import {
  type IdentityInfo,
  generateRogueKit,
  initPki,
  issueClaim,
  issueIdentities,
  listIdentities,
  onPkiNotice,
  resignCrls,
  pkiLayout,
  revokeIdentity,
  showIdentity,
} from '../../pki/index.ts';
import { stateDirOf, wholeNumber } from '../options.ts';
import { progressBar } from '../progress.ts';
import { readImportedCa } from '../../pki/import-ca.ts';

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function describe(info: IdentityInfo): string {
  const rows: Array<[string, string]> = [
    ['id', info.id],
    ['role', info.rogueKind ? `${info.role} (${info.rogueKind})` : info.role],
    ['subject', info.subject],
    ['issuer', info.issuer],
    ['serial', info.serial],
    ['valid', `${info.notBefore} → ${info.notAfter}`],
    ['status', info.status],
    ['key', info.keyType],
    ['key usage', info.keyUsage.join(', ') || '-'],
    ['ext. key usage', info.extKeyUsage.join(', ') || '-'],
    ['alt. names', info.subjectAltNames.join(', ') || '-'],
    ['SHA-256', info.fingerprint256],
    ['certificate', info.paths.cert],
    ['private key', info.paths.key],
    ['chain', info.paths.chain],
    ['trust (CA)', info.paths.ca],
  ];
  return rows.map(([key, value]) => `${key.padEnd(15)}${value}`).join('\n');
}

function table(identities: IdentityInfo[]): string {
  const header = ['ID', 'ROLE', 'STATUS', 'KEY', 'NOT AFTER', 'SERIAL'];
  const rows = identities.map((i) => [
    i.id,
    i.rogueKind ? `rogue:${i.rogueKind}` : i.role,
    i.status === 'corrupt' ? 'CORRUPT' : i.status,
    i.keyType,
    i.notAfter.slice(0, 10),
    i.serial,
  ]);
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function registerPkiCommands(program: Command): void {
  // What the store repaired after a crash (recovery.ts), said once, before the command's own output.
  onPkiNotice((message) => process.stderr.write(`notice: ${message}\n`));
  const pki = program
    .command('pki')
    .description('the certificate authority: CAs, device certificates, CRLs, the rogue kit')
    .addHelpText(
      'after',
      `
Examples:
  $ certfleet pki init
  $ certfleet pki issue sensor-001 sensor-002 --key rsa
  $ certfleet pki issue --count 100 --prefix sensor-
  $ certfleet pki issue sensor-001 --validity 45s
  $ certfleet pki issue --claim factory --quota 50 --template 'sensor-{serial}'
  $ certfleet pki show sensor-001 --json
  $ certfleet pki revoke sensor-002
  $ certfleet pki rogue`,
    );

  pki
    .command('init')
    .description(
      'create the root and issuing CAs, the broker (server) and dashboard identities, the CRLs and a default policy',
    )
    .option(
      '--force',
      'start over: move the existing PKI aside and create a new one (every device must be re-issued)',
    )
    .option(
      '--ca-cert <file>',
      'bring your own CA (PEM, RSA or EC): devices and rogues come from the CA your broker trusts',
    )
    .option(
      '--ca-key <file>',
      "that CA's private key (without it, `check` runs only the rogues that need no CA key)",
    )
    .action(async (options: { force?: boolean; caCert?: string; caKey?: string }, command: Command) => {
      const stateDir = stateDirOf(command);
      if (options.caKey && !options.caCert)
        throw new UserError(
          'cannot import the CA',
          '--ca-key needs --ca-cert',
          'Pass both: --ca-cert ca.pem --ca-key ca.key',
        );
      const importCa = options.caCert
        ? await readImportedCa(resolve(options.caCert), options.caKey && resolve(options.caKey))
        : undefined;
      if (options.force)
        process.stderr.write(
          'WARNING: --force: the existing CA is moved aside; certificates it issued will no longer be trusted.\n',
        );
      const result = await initPki(stateDir, {
        force: options.force,
        ...(importCa && { importCa }),
        onProgress: (message) => process.stderr.write(`${message}\n`),
      });
      if (!result.created) {
        process.stdout.write(
          `A certificate authority already exists in ${result.layout.pkiDir} (kept as it is).\nUse --force to start over.\n`,
        );
        return;
      }
      if (result.backup) process.stdout.write(`The previous PKI was moved to ${result.backup}\n`);
      if (importCa?.authority)
        process.stdout.write(
          `Imported your CA as the root (${importCa.certFile}); certfleet's issuing CA is under it.\n`,
        );
      else if (importCa)
        process.stdout.write(
          `Recorded your CA without its key (${importCa.certFile}): \`certfleet check\` runs only the rogues that need no CA key.\n`,
        );
      process.stdout.write(
        `Created a new certificate authority in ${result.layout.pkiDir}\n  root CA       ${result.layout.rootCert}\n  issuing CA    ${result.layout.issuingCert}\n  CRLs          ${result.layout.crlBundle}\n  identities    server, dashboard (see \`certfleet pki list\`)\n  policy        ${result.layout.policy}\n`,
      );
    });

  pki
    .command('issue')
    .description('issue device certificates (CN = id, clientAuth, SHA-256)')
    .argument('[ids...]', 'device ids, e.g. sensor-001')
    .addOption(new Option('--key <type>', 'key type').choices(['ec', 'rsa']).default('ec'))
    .option('--days <n>', 'validity in days', wholeNumber('--days', 1, 3650), 365)
    .addOption(
      new Option('--validity <time>', 'validity: 45s, 10m, 12h or 30d (wins over --days)').argParser(
        (value) => parseValidity(value, '--validity'),
      ),
    )
    .option('--count <n>', 'issue N devices named <prefix><number>', wholeNumber('--count', 1, 100_000))
    .option('--prefix <prefix>', 'id prefix for --count', 'sensor-')
    .option(
      '--claim <name>',
      'a claim certificate (CN claim-NAME): may only enroll devices, see --quota, --template',
    )
    .option(
      '--quota <n>',
      'with --claim: how many identities it may obtain',
      wholeNumber('--quota', 1, 1_000_000),
      100,
    )
    .option(
      '--template <cn>',
      'with --claim: the CNs it may obtain, {serial} = the device serial',
      'sensor-{serial}',
    )
    .addOption(
      new Option('--identity-validity <time>', 'with --claim: lifetime of the identities it obtains')
        .argParser((value) => parseValidity(value, '--identity-validity'))
        .default(30 * 86_400_000, '30d'),
    )
    .option('--force', 'replace identities that exist already (new key, new certificate)')
    .option('--json', 'print the issued identities as JSON')
    .action(
      async (
        ids: string[],
        options: {
          key: 'ec' | 'rsa';
          days: number;
          claim?: string;
          quota: number;
          template: string;
          identityValidity: number;
          validity?: number;
          count?: number;
          prefix: string;
          force?: boolean;
          json?: boolean;
        },
        command: Command,
      ) => {
        if (options.claim !== undefined) {
          const { claim, identity } = await issueClaim(stateDirOf(command), options.claim, {
            quota: options.quota,
            template: options.template,
            identityValidityMs: options.identityValidity,
            ...(options.validity !== undefined && { validityMs: options.validity }),
            ...(options.force && { force: true }),
          });
          if (options.json) return printJson({ claim, identity });
          process.stdout.write(
            `Issued claim certificate '${identity.id}': it may obtain ${claim.quota} identities named ${claim.template}, nothing else\n  ${identity.paths.chain}\n`,
          );
          return;
        }
        const all = [...ids];
        if (options.count) {
          const digits = Math.max(3, String(options.count).length);
          for (let n = 1; n <= options.count; n++)
            all.push(`${options.prefix}${String(n).padStart(digits, '0')}`);
        }
        if (all.length === 0)
          throw new UserError(
            'nothing to issue',
            'no device id given',
            'Example: certfleet pki issue sensor-001, or --count 10 --prefix sensor-',
          );
        const validityMs = options.validity;
        const bar = progressBar('issuing');
        const issued = await issueIdentities(stateDirOf(command), all, {
          keyType: options.key,
          days: options.days,
          ...(validityMs !== undefined && { validityMs }),
          force: options.force,
          onProgress: bar.update,
        });
        bar.finish();
        if (options.json) return printJson(issued);
        const dir = pkiLayout(stateDirOf(command)).identitiesDir;
        process.stdout.write(
          issued.length === 1
            ? `Issued '${issued[0]!.id}' (${issued[0]!.keyType}): ${issued[0]!.paths.chain}\n`
            : `Issued ${issued.length} identities (${options.key}) under ${dir}\n`,
        );
      },
    );

  pki
    .command('revoke')
    .description(
      "revoke an identity's certificate: its serial goes on the issuing CA's CRL (a running broker cuts it off)",
    )
    .argument('<id>', 'the identity to revoke')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { identity, alreadyRevoked, serials } = await revokeIdentity(stateDirOf(command), id);
      const what = `${identity.role === 'enrolled' ? 'enrolled ' : ''}'${id}' (serial${serials.length > 1 ? 's' : ''} ${serials.join(', ')})`;
      process.stdout.write(
        alreadyRevoked
          ? `${what} was already revoked.\n`
          : `Revoked ${what}; CRL updated: ${pkiLayout(stateDirOf(command)).crlBundle}\n`,
      );
    });

  pki
    .command('crl')
    .description(
      're-sign both CRLs now from the index (new CRL numbers, valid 7 days): the fix for a CRL a broker rejected',
    )
    .action(async (_options: unknown, command: Command) => {
      const stateDir = stateDirOf(command);
      await resignCrls(stateDir);
      process.stdout.write(
        `CRLs re-signed: ${pkiLayout(stateDir).crlBundle} (a running broker loads them)\n`,
      );
    });

  pki
    .command('rogue')
    .description(
      'make the rogue credential kit: every way a client certificate can be wrong, plus an impostor broker',
    )
    .option('--force', 'make a new kit even if one exists')
    .option('--json', 'print the kit as JSON')
    .action(async (options: { force?: boolean; json?: boolean }, command: Command) => {
      const kit = await generateRogueKit(stateDirOf(command), { force: options.force });
      if (options.json) return printJson(kit);
      process.stdout.write(`Rogue kit in ${pkiLayout(stateDirOf(command)).rogueDir}:\n`);
      process.stdout.write(`  ${'no-cert'.padEnd(16)}${ROGUES['no-cert'].description} (no files)\n`);
      for (const rogue of kit)
        process.stdout.write(
          `  ${(rogue.rogueKind ?? rogue.id).padEnd(16)}${rogue.rogueKind ? ROGUES[rogue.rogueKind].description : ''}\n`,
        );
    });

  pki
    .command('list')
    .description('list the CAs and every issued identity with its status')
    .option('--json', 'print JSON (a stable contract: see IdentityInfo in pki/types.ts)')
    .action(async (options: { json?: boolean }, command: Command) => {
      const identities = await listIdentities(stateDirOf(command));
      if (options.json) return printJson(identities);
      process.stdout.write(`${table(identities)}\n`);
      const corrupt = identities.filter((identity) => identity.status === 'corrupt');
      for (const identity of corrupt)
        process.stderr.write(
          `warning: '${identity.id}' is corrupt: ${identity.problem}\n  Re-issue it: certfleet pki issue ${identity.id} --force\n`,
        );
    });

  pki
    .command('show')
    .description(
      'show one identity: subject, issuer, serial, validity, key, usages, fingerprint, status and file paths',
    )
    .argument('<id>', 'identity id (root-ca, issuing-ca, server, dashboard, a device, or rogue-<kind>)')
    .option('--json', 'print JSON (a stable contract: see IdentityInfo in pki/types.ts)')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const info = await showIdentity(stateDirOf(command), id);
      if (options.json) return printJson(info);
      process.stdout.write(`${describe(info)}\n`);
    });
}
