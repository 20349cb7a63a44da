/**
 * Identity beyond the CN. `--identity-from san-dns|san-uri`: the devices a check uses carry their name in a SAN too
 * (openssl shows it). `--username/--password-file`: a Mosquitto that wants a password besides the certificate refuses
 * the devices without one and admits them with it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseScenario, runCheck } from '../../devices/check/index.ts';
import { initPki, showIdentity } from '../../pki/index.ts';
import { startMosquitto } from '../helpers/devices-mosquitto.ts';
import { execFileAsync } from '../helpers/pki-fixture.ts';

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'certfleet-identity-'));
  await initPki(stateDir);
});
afterAll(() => rm(stateDir, { recursive: true, force: true }));

const scenario = (text: string) => parseScenario(`version: 1\nsettle: 8s\n${text}`, 'identity.yaml');

describe('where the broker finds the identity', () => {
  it('--identity-from san-uri / san-dns: the certificates carry the identity in a SAN (openssl shows it)', async () => {
    // Mosquitto takes the CN (use_identity_as_username): the extra SAN changes nothing, the device comes online.
    const mosquitto = await startMosquitto(stateDir, await mkdtemp(join(stateDir, 'mq-')));
    onTestFinished(() => mosquitto.stop());
    const report = await runCheck({
      stateDir,
      broker: { host: '127.0.0.1', port: mosquitto.port },
      brokerName: 'mosquitto',
      scenario: scenario('devices:\n  - id: sensor-101\n'),
      identityFrom: 'san-uri',
    });
    expect(report.identityFrom).toBe('san-uri');
    expect(report.results.map((check) => [check.name, check.status])).toEqual([
      ['device sensor-101', 'pass'],
    ]);
    const uri = await showIdentity(stateDir, 'sensor-101');
    const text = await execFileAsync('openssl', [
      'x509',
      '-in',
      uri.paths.cert,
      '-noout',
      '-ext',
      'subjectAltName',
    ]);
    expect(text.stdout).toContain('URI:urn:certfleet:device:sensor-101');

    // Switching to san-dns re-issues the identity with that SAN; a second run keeps it.
    await runCheck({
      stateDir,
      broker: { host: '127.0.0.1', port: mosquitto.port },
      brokerName: 'mosquitto',
      scenario: scenario('devices:\n  - id: sensor-101\n'),
      identityFrom: 'san-dns',
    });
    const dns = await showIdentity(stateDir, 'sensor-101');
    expect(dns.subjectAltNames).toEqual(['DNS:sensor-101']);
    expect(dns.serial).not.toBe(uri.serial);
  }, 120_000);

  it('--username/--password-file: refused without the password, admitted with it', async () => {
    const work = await mkdtemp(join(stateDir, 'pw-'));
    const passwords = join(work, 'passwd');
    await writeFile(passwords, '');
    await execFileAsync('mosquitto_passwd', ['-b', passwords, 'fleet', 's3cret']);
    const mosquitto = await startMosquitto(stateDir, work, { passwordFile: passwords });
    onTestFinished(() => mosquitto.stop());
    const run = (auth: { username?: string; password?: string }) =>
      runCheck({
        stateDir,
        broker: { host: '127.0.0.1', port: mosquitto.port },
        brokerName: 'mosquitto',
        scenario: scenario('devices:\n  - id: sensor-102\n'),
        ...auth,
      });
    const without = await run({});
    expect(without.results[0]).toMatchObject({
      status: 'fail',
      observed: { outcome: 'rejected', step: 'access-granted' },
    });
    // MQTT 5 devices (the default) get 0x87 Not authorized; MQTT 3.1.1 ones CONNACK 5.
    expect(without.results[0]?.observed?.detail).toMatch(/CONNACK (5|0x87)/);
    const wrong = await run({ username: 'fleet', password: 'guess' });
    expect(wrong.results[0]?.status).toBe('fail');
    const right = await run({ username: 'fleet', password: 's3cret' });
    expect(right.results[0]).toMatchObject({ status: 'pass', observed: { outcome: 'online' } });
  }, 120_000);
});
