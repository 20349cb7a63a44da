/**
 * Bring your own CA. A CA made with openssl (the user's) is imported with `pki init --ca-cert --ca-key`: devices from
 * certfleet's issuing CA under it verify with openssl against that CA alone, a Mosquitto trusting only that CA lets
 * them in, and the impostor-ca rogue copies that CA's name. Imported without its key, `check` runs the rogues that
 * need no CA key against a Mosquitto whose certificate that CA signed, and says which it skipped and why.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type CheckReport, parseScenario, runCheck } from '../../devices/check/index.ts';
import { ensureIdentity, generateRogueKit, pkiLayout } from '../../pki/index.ts';
import { startMosquitto } from '../helpers/devices-mosquitto.ts';
import { certfleet, execFileAsync } from '../helpers/pki-fixture.ts';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'certfleet-own-ca-'));
  // The user's CA: an RSA root made by openssl, nothing of ours.
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(work, 'ca.key'),
    '-out',
    join(work, 'ca.pem'),
    '-days',
    '30',
    '-subj',
    '/O=Acme Industrial/CN=Acme Device Root',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(work, 'state-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('pki init --ca-cert --ca-key', () => {
  it('issues from the imported CA: openssl verifies against it alone, Mosquitto trusting it admits the devices', async () => {
    const dir = await stateDir();
    const init = await certfleet(dir, [
      'pki',
      'init',
      '--ca-cert',
      join(work, 'ca.pem'),
      '--ca-key',
      join(work, 'ca.key'),
    ]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Imported your CA as the root');
    const layout = pkiLayout(dir);
    expect(await readFile(layout.rootCert, 'utf8')).toBe(await readFile(join(work, 'ca.pem'), 'utf8'));
    const device = await ensureIdentity(dir, 'sensor-001');
    const verified = await execFileAsync('openssl', [
      'verify',
      '-CAfile',
      join(work, 'ca.pem'),
      '-untrusted',
      layout.issuingCert,
      device.paths.cert,
    ]);
    expect(verified.stdout).toContain(': OK');

    await generateRogueKit(dir);
    const impostor = new X509Certificate(
      await readFile(join(layout.rogueDir, 'impostor-ca', 'cert.pem'), 'utf8'),
    );
    expect(impostor.issuer).toBe('O=Acme Industrial\nCN=Acme Device Root');

    const mosquitto = await startMosquitto(dir, await mkdtemp(join(work, 'mq-')));
    onTestFinished(() => mosquitto.stop());
    const report = await runCheck({
      stateDir: dir,
      broker: { host: '127.0.0.1', port: mosquitto.port },
      brokerName: 'mosquitto',
      scenario: parseScenario(
        'version: 1\nsettle: 8s\ndevices:\n  - count: 2\nrogues:\n  - kind: expired\n  - kind: impostor-ca\n  - kind: foreign-ca\n',
        'own-ca.yaml',
      ),
    });
    expect(report.results.map((check) => [check.name, check.status, check.observed?.reason])).toEqual([
      ['device sensor-001', 'pass', undefined],
      ['device sensor-002', 'pass', undefined],
      ['rogue expired', 'pass', 'EXPIRED'],
      ['rogue impostor-ca', 'pass', 'UNKNOWN_CA'],
      ['rogue foreign-ca', 'pass', 'UNKNOWN_CA'],
    ]);
  }, 120_000);

  it('refuses what it cannot use: a leaf certificate, a key that is not the CA’s, --ca-key alone', async () => {
    const dir = await stateDir();
    await execFileAsync('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      join(work, 'other.key'),
    ]);
    const wrongKey = await certfleet(dir, [
      'pki',
      'init',
      '--ca-cert',
      join(work, 'ca.pem'),
      '--ca-key',
      join(work, 'other.key'),
    ]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^ERROR: cannot import the CA: .*other\.key is not the key of .*ca\.pem/);
    const keyAlone = await certfleet(dir, ['pki', 'init', '--ca-key', join(work, 'ca.key')]);
    expect(keyAlone.stderr).toMatch(/^ERROR: cannot import the CA: --ca-key needs --ca-cert/);
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(work, 'leaf.key'),
      '-out',
      join(work, 'leaf.pem'),
      '-days',
      '3',
      '-subj',
      '/CN=not-a-ca',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
    ]);
    const leaf = await certfleet(dir, [
      'pki',
      'init',
      '--ca-cert',
      join(work, 'leaf.pem'),
      '--ca-key',
      join(work, 'leaf.key'),
    ]);
    expect(leaf.stderr).toMatch(/^ERROR: cannot import the CA: .*leaf\.pem is not a CA certificate/);
    expect(`${wrongKey.stderr}${keyAlone.stderr}${leaf.stderr}`).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe('pki init --ca-cert without the key', () => {
  it('check runs only the rogues that need no CA key, and the report says which were skipped and why', async () => {
    const dir = await stateDir();
    const init = await certfleet(dir, ['pki', 'init', '--ca-cert', join(work, 'ca.pem')]);
    expect(init.code).toBe(0);
    // The broker's own certificate, from the user's CA (certfleet never held that key).
    await execFileAsync('openssl', [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(work, 'broker.key'),
      '-out',
      join(work, 'broker.csr'),
      '-subj',
      '/CN=localhost',
    ]);
    await writeFile(
      join(work, 'broker.ext'),
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
    );
    await execFileAsync('openssl', [
      'x509',
      '-req',
      '-in',
      join(work, 'broker.csr'),
      '-CA',
      join(work, 'ca.pem'),
      '-CAkey',
      join(work, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '3',
      '-out',
      join(work, 'broker.pem'),
      '-extfile',
      join(work, 'broker.ext'),
    ]);
    const mosquitto = await startMosquitto(dir, await mkdtemp(join(work, 'mq-')), {
      tls: {
        cafile: join(work, 'ca.pem'),
        certfile: join(work, 'broker.pem'),
        keyfile: join(work, 'broker.key'),
      },
    });
    onTestFinished(() => mosquitto.stop());
    const junit = join(dir, 'check.xml');
    const result = await certfleet(dir, [
      'check',
      '--broker',
      `mqtts://127.0.0.1:${mosquitto.port}`,
      '--json',
      '--junit',
      junit,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as CheckReport;
    const byStatus = (status: string) =>
      report.results.filter((check) => check.status === status).map((check) => check.name);
    expect(byStatus('pass')).toEqual([
      'rogue no-cert',
      'rogue self-signed',
      'rogue foreign-ca',
      'rogue impostor-ca',
      'rogue impostor-broker',
    ]);
    expect(byStatus('fail')).toEqual([]);
    expect(byStatus('skipped')).toHaveLength(14);
    expect(report.results.find((check) => check.name === 'rogue expired')?.why).toMatch(
      /^needs a certificate signed by your CA, and `pki init` got --ca-cert without --ca-key/,
    );
    expect(report.results.find((check) => check.name === 'rogue impostor-ca')?.observed?.reason).toBe(
      'UNKNOWN_CA',
    );
    expect(await readFile(junit, 'utf8')).toMatch(
      /name="device sensor-001"[^>]*>\s*<skipped message="needs a certificate signed by your CA/,
    );
  }, 120_000);
});
