/**
 * Every way the CRL bundle can go bad, at a real broker with real TLS clients: the revoked device stays refused, the
 * good device is served (unless no usable CRL is left and the broker holds no CA key: then everyone is refused, and
 * the audit says why), and each fault is said exactly once — one `crl-rejected` audit record, one warning.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../core/audit.ts';
import { UserError } from '../../core/user-error.ts';
import { loadIssuingCa, loadRootCa } from '../../pki/authority.ts';
import { buildCrl } from '../../pki/crl.ts';
import { pkiLayout, resignCrls, revokeIdentity } from '../../pki/index.ts';
import { startBroker } from '../../broker/broker.ts';
import {
  connectAs,
  makePki,
  type PkiFixture,
  runCleanups,
  startTestBroker,
} from '../helpers/broker-fixture.ts';
import { certfleet } from '../helpers/pki-fixture.ts';

const DAY = 86_400_000;
let pki: PkiFixture;
let olderBundle: string;
const cleanups: (() => Promise<void>)[] = [];
const table: string[][] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-good', 'sensor-bad'] });
  cleanups.push(() => pki.cleanup());
  olderBundle = await readFile(pkiLayout(pki.stateDir).crlBundle, 'utf8'); // before the revocation
  await revokeIdentity(pki.stateDir, 'sensor-bad');
}, 120_000);
afterAll(async () => {
  await runCleanups(cleanups);
  const header = [
    'fault',
    'when',
    'revoked device',
    'good device',
    'crl-rejected records',
    'warnings',
    'what the broker said',
  ];
  console.log(
    `\nCRL faults at a real broker\n${[header, ...table].map((row) => `| ${row.join(' | ')} |`).join('\n')}\n`,
  );
});

const layout = () => pkiLayout(pki.stateDir);

/** Replaces a file the way `mv` does (atomically), so the watcher sees one change, not a half-written file. */
async function replace(path: string, content: string): Promise<void> {
  await writeFile(`${path}.new`, content);
  await rename(`${path}.new`, path);
}

/** Both CRLs, properly signed by our CAs unless `forgeIssuing`, with the given window and numbers one up. */
async function bundle(options: {
  from: number;
  to: number;
  forgeIssuing?: boolean;
  /** Added to the CRL numbers the index records (default 1: the next CRL). */
  numberStep?: number;
  /** Sign the issuing CA's CRL with no revocations (what a replay or an insider's "fix" would do). */
  emptyIssuing?: boolean;
}): Promise<string> {
  const index = JSON.parse(await readFile(layout().index, 'utf8'));
  const [root, issuing] = await Promise.all([loadRootCa(layout()), loadIssuingCa(layout())]);
  const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sign = (ca: typeof root, which: 'root' | 'issuing', forged = false, empty = false) =>
    buildCrl({
      issuerCertDer: ca.certDer,
      issuerPublicKey: forged ? foreign.publicKey : ca.publicKey,
      issuerPrivateKey: forged ? foreign.privateKey : ca.privateKey,
      crlNumber: index.crls[which].number + (options.numberStep ?? 1),
      thisUpdate: new Date(Date.now() + options.from),
      nextUpdate: new Date(Date.now() + options.to),
      revoked: forged || empty ? [] : index.crls[which].revoked, // the forger un-revokes everyone
    });
  return (
    (await sign(root, 'root')) + (await sign(issuing, 'issuing', options.forgeIssuing, options.emptyIssuing))
  );
}

/** Moves the CA keys away: a broker deployed without them. Returns the undo. */
async function withoutCaKeys(): Promise<() => Promise<void>> {
  const { rootKey, issuingKey } = layout();
  await rename(rootKey, `${rootKey}.away`);
  await rename(issuingKey, `${issuingKey}.away`);
  return async () => {
    await rename(`${rootKey}.away`, rootKey);
    await rename(`${issuingKey}.away`, issuingKey);
  };
}

interface Outcome {
  revokedConnected: boolean;
  revokedReason?: string;
  goodConnected: boolean;
  goodReason?: string;
}

async function tryDevices(
  broker: Awaited<ReturnType<typeof startTestBroker>>,
  name: string,
): Promise<Outcome> {
  const refusalOf = async (cn: string) =>
    (
      await broker.waitFor(
        (r) => r.cn === cn && (r.event === 'handshake-refused' || r.event === 'connect-refused'),
        `${cn} refused (${name})`,
      )
    ).reason;
  const revoked = await connectAs(broker.broker, pki.stateDir, 'sensor-bad', {}, cleanups);
  const good = await connectAs(broker.broker, pki.stateDir, 'sensor-good', {}, cleanups);
  good.client.end(true);
  return {
    revokedConnected: revoked.connected,
    ...(revoked.connected ? {} : { revokedReason: await refusalOf('sensor-bad') }),
    goodConnected: good.connected,
    ...(good.connected ? {} : { goodReason: await refusalOf('sensor-good') }),
  };
}

function record(fault: string, when: string, outcome: Outcome, rejected: AuditRecord[], warnings: number) {
  table.push([
    fault,
    when,
    outcome.revokedConnected ? 'ADMITTED' : `refused ${outcome.revokedReason}`,
    outcome.goodConnected ? 'served' : `refused ${outcome.goodReason}`,
    String(rejected.length),
    String(warnings),
    (rejected[0]?.detail ?? '').replace(/\/tmp\/[^ :]+\//g, '…/').slice(0, 150),
  ]);
}

interface Fault {
  name: string;
  apply(): Promise<(() => Promise<void>) | undefined>;
  /** Expected in the crl-rejected record. */
  says: RegExp;
}

const runtimeFaults: Fault[] = [
  {
    name: 'garbage',
    apply: async () => void (await replace(layout().crlBundle, 'this is not a CRL\n')),
    says: /no "BEGIN X509 CRL" block/,
  },
  {
    name: 'empty (0 bytes)',
    apply: async () => void (await replace(layout().crlBundle, '')),
    says: /the file is empty/,
  },
  {
    name: 'older CRL number',
    apply: async () => void (await replace(layout().crlBundle, olderBundle)),
    says: /CRL number \d+ is older than number \d+/,
  },
  {
    name: 'not yet valid',
    apply: async () => void (await replace(layout().crlBundle, await bundle({ from: DAY, to: 8 * DAY }))),
    says: /not valid yet/,
  },
  {
    name: 'forged (our name, foreign key)',
    apply: async () =>
      void (await replace(
        layout().crlBundle,
        await bundle({ from: -60_000, to: 7 * DAY, forgeIssuing: true }),
      )),
    says: /not signed by our root or issuing CA/,
  },
  {
    name: 'corrupt base64',
    apply: async () =>
      void (await replace(
        layout().crlBundle,
        '-----BEGIN X509 CRL-----\nMIIB@@@###!!!\n-----END X509 CRL-----\n'.repeat(2),
      )),
    says: /not valid base64/,
  },
  {
    name: 'path becomes a directory',
    apply: async () => {
      await rm(layout().crlBundle);
      await mkdir(layout().crlBundle);
      return () => rmdir(layout().crlBundle);
    },
    says: /is a directory/,
  },
  { name: 'deleted', apply: async () => void (await rm(layout().crlBundle)), says: /the file is missing/ },
  {
    name: 'same CRL number, other content',
    apply: async () =>
      void (await replace(
        layout().crlBundle,
        await bundle({ from: -60_000, to: 7 * DAY, numberStep: 0, emptyIssuing: true }),
      )),
    says: /reuses number \d+ with different content/,
  },
  {
    name: 'only one CA has a CRL',
    apply: async () => {
      const both = await bundle({ from: -60_000, to: 7 * DAY });
      const issuingOnly = both.match(/-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----\n/g)![1]!;
      await replace(layout().crlBundle, issuingOnly);
      return undefined;
    },
    says: /no CRL of the root CA/,
  },
  {
    name: 'expired, no CA key here',
    apply: async () => {
      const expired = await bundle({ from: -9 * DAY, to: -DAY });
      const restoreKeys = await withoutCaKeys();
      await replace(layout().crlBundle, expired);
      return restoreKeys;
    },
    says: /expired: nextUpdate .*; keeping the CRL in force/,
  },
];

describe('a bad CRL while the broker runs keeps the last good one in force', () => {
  it.each(runtimeFaults)('$name', async (fault) => {
    const good = await readFile(layout().crlBundle, 'utf8');
    const broker = await startTestBroker(
      pki.stateDir,
      { auditFile: join(pki.stateDir, 'crl-faults.jsonl'), crlPollMs: 100 },
      cleanups,
    );
    const warnings: Error[] = [];
    broker.broker.on('warning', (error) => warnings.push(error));
    const undo = await fault.apply();
    try {
      const rejected = await broker.waitFor((r) => r.event === 'crl-rejected', 'crl-rejected');
      expect(rejected.reason).toBe('CRL_REJECTED');
      expect(rejected.detail).toMatch(fault.says);
      await sleep(800); // eight polls: the same bad file is not reported again
      const outcome = await tryDevices(broker, fault.name);
      const all = broker.records.filter((r) => r.event === 'crl-rejected');
      record(fault.name, 'running', outcome, all, warnings.length);
      expect(outcome).toMatchObject({
        revokedConnected: false,
        revokedReason: 'REVOKED',
        goodConnected: true,
      });
      expect(all).toHaveLength(1);
      expect(warnings).toHaveLength(1);
      expect(broker.records.some((r) => r.event === 'crl-reloaded')).toBe(false);
    } finally {
      await undo?.();
      await replace(layout().crlBundle, good);
      await broker.broker.close();
    }
  });

  it('expired, CA key here: re-signed by the broker', async () => {
    const broker = await startTestBroker(
      pki.stateDir,
      { auditFile: join(pki.stateDir, 'crl-faults.jsonl'), crlPollMs: 100 },
      cleanups,
    );
    const warnings: Error[] = [];
    broker.broker.on('warning', (error) => warnings.push(error));
    await replace(layout().crlBundle, await bundle({ from: -9 * DAY, to: -DAY }));
    const rejected = await broker.waitFor((r) => r.event === 'crl-rejected', 'crl-rejected');
    expect(rejected.detail).toMatch(/expired: nextUpdate .*; re-signing it from the CA's index/);
    await broker.waitFor((r) => r.event === 'crl-reloaded', 'the re-signed CRL loaded');
    await sleep(500);
    const outcome = await tryDevices(broker, 'expired (key held)');
    const all = broker.records.filter((r) => r.event === 'crl-rejected');
    record('expired, CA key here', 'running', outcome, all, warnings.length);
    expect(outcome).toMatchObject({ revokedConnected: false, revokedReason: 'REVOKED', goodConnected: true });
    expect(all).toHaveLength(1);
    expect(warnings).toHaveLength(1);
    await broker.broker.close();
  });

  it('the CRL in force expires and no CA key is here: everyone refused, said once', async () => {
    const broker = await startTestBroker(
      pki.stateDir,
      { auditFile: join(pki.stateDir, 'crl-faults.jsonl'), crlPollMs: 100 },
      cleanups,
    );
    const warnings: Error[] = [];
    broker.broker.on('warning', (error) => warnings.push(error));
    // A valid CRL with three seconds left, then no way to renew it.
    const short = await bundle({ from: -60_000, to: 3000 });
    const restoreKeys = await withoutCaKeys();
    try {
      await replace(layout().crlBundle, short);
      await broker.waitFor((r) => r.event === 'crl-reloaded', 'the short CRL loaded');
      const loud = await broker.waitFor((r) => r.event === 'crl-rejected', 'the expiry said');
      expect(loud.detail).toMatch(/EVERY device is refused/);
      await sleep(500);
      const outcome = await tryDevices(broker, 'in-force CRL expired');
      const all = broker.records.filter((r) => r.event === 'crl-rejected');
      record('CRL in force expires, no CA key', 'running', outcome, all, warnings.length);
      expect(outcome).toMatchObject({
        revokedConnected: false,
        goodConnected: false,
        goodReason: 'CRL_REJECTED',
      });
      expect(all).toHaveLength(1);
      expect(warnings).toHaveLength(1);
    } finally {
      await restoreKeys();
      await broker.broker.close();
      await resignCrls(pki.stateDir);
    }
  });
});

describe('a bad CRL at start: the last good CRL, or no start at all', () => {
  beforeAll(async () => {
    // A broker that started with a good bundle is what leaves the last good copy in the state dir.
    const broker = await startBroker({
      stateDir: pki.stateDir,
      port: 0,
      auditFile: join(pki.stateDir, 'crl-start.jsonl'),
    });
    await broker.close();
  });

  const startFaults: Array<{ name: string; content: () => Promise<string | null>; says: RegExp }> = [
    { name: 'missing', content: async () => null, says: /the file is missing/ },
    { name: 'garbage', content: async () => 'garbage\n', says: /no "BEGIN X509 CRL" block/ },
    { name: 'empty', content: async () => '', says: /the file is empty/ },
    { name: 'older CRL number', content: async () => olderBundle, says: /is older than number/ },
  ];

  it.each(startFaults)('$name → starts from the last good CRL, says so once', async (fault) => {
    const good = await readFile(layout().crlBundle, 'utf8');
    const content = await fault.content();
    if (content === null) await rm(layout().crlBundle);
    else await replace(layout().crlBundle, content);
    try {
      const broker = await startTestBroker(
        pki.stateDir,
        { auditFile: join(pki.stateDir, 'crl-start.jsonl'), crlPollMs: 100 },
        cleanups,
      );
      const warnings: Error[] = [];
      broker.broker.on('warning', (error) => warnings.push(error));
      const rejected = await broker.waitFor((r) => r.event === 'crl-rejected', 'crl-rejected');
      expect(rejected.detail).toMatch(fault.says);
      expect(rejected.detail).toMatch(/started from the last good CRL/);
      await sleep(500);
      const outcome = await tryDevices(broker, fault.name);
      const all = broker.records.filter((r) => r.event === 'crl-rejected');
      record(fault.name, 'start (last good kept)', outcome, all, warnings.length);
      expect(warnings).toHaveLength(1);
      expect(outcome).toMatchObject({
        revokedConnected: false,
        revokedReason: 'REVOKED',
        goodConnected: true,
      });
      expect(all).toHaveLength(1);
      await broker.broker.close();
    } finally {
      await replace(layout().crlBundle, good);
    }
  });

  it('garbage and no last good CRL → refuses to start, one line, at the CLI too', async () => {
    const good = await readFile(layout().crlBundle, 'utf8');
    const lastGood = await readFile(layout().lastGoodCrl, 'utf8');
    await rm(layout().lastGoodCrl);
    await replace(layout().crlBundle, 'garbage\n');
    try {
      const error = await startBroker({
        stateDir: pki.stateDir,
        port: 0,
        auditFile: join(pki.stateDir, 'crl-none.jsonl'),
      }).then(
        async (broker) => {
          await broker.close();
          return null;
        },
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).format()).toMatch(
        /^ERROR: cannot start the broker: no usable CRL: .*crl-bundle\.pem: no "BEGIN X509 CRL" block.*\(last good copy: there is none\)\n/,
      );
      const cli = await certfleet(pki.stateDir, ['broker', '--port', '0']);
      expect(cli.code).toBe(1);
      expect(cli.stderr.split('\n')[0]).toMatch(/^ERROR: cannot start the broker: no usable CRL: /);
      expect(cli.stderr).not.toMatch(/\n\s+at /);
      table.push([
        'garbage, no last good',
        'start',
        '(no broker)',
        '(no broker)',
        '0',
        '0',
        cli.stderr
          .split('\n')[0]!
          .replace(/\/tmp\/[^ :]+\//g, '…/')
          .slice(0, 150),
      ]);
    } finally {
      await replace(layout().crlBundle, good);
      await writeFile(layout().lastGoodCrl, lastGood);
    }
  });
});
