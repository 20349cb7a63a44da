/**
 * Devices of one worker share a TLS context and put their own leaf and key into it right before connecting. The
 * pair is checked when it is loaded (not by building a context per device), and every connection — real TLS to the
 * real broker — presents its own leaf, never the one loaded last.
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTlsFromPem } from '../../devices/tls-context.ts';
import { identityFiles, pkiLayout } from '../../pki/layout.ts';
import { makePki, type PkiFixture, runCleanups, startTestBroker } from '../helpers/broker-fixture.ts';

let pki: PkiFixture;
let port: number;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makePki({ ec: ['sensor-001', 'sensor-002'] });
  cleanups.push(() => pki.cleanup());
  port = (await startTestBroker(pki.stateDir, {}, cleanups)).broker.port;
});
afterAll(() => runCleanups(cleanups));

async function pemsOf(id: string) {
  const layout = pkiLayout(pki.stateDir);
  const files = identityFiles(layout, id);
  const [ca, chain, key] = await Promise.all([
    readFile(layout.caBundle, 'utf8'),
    readFile(files.chain, 'utf8'),
    readFile(files.key, 'utf8'),
  ]);
  return { ca, chain, key, caPath: layout.caBundle };
}

/** The CN of the certificate this end presented, read from the live connection. */
function presentedCn(context: tls.SecureContext): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, secureContext: context, servername: 'localhost' });
    socket.once('secureConnect', () => {
      const own = socket.getCertificate() as tls.PeerCertificate;
      socket.destroy();
      resolve(String(own.subject.CN));
    });
    socket.once('error', reject);
  });
}

describe('device TLS contexts', () => {
  it('a device whose key does not belong to its certificate is refused when loaded: KEY_VALUES_MISMATCH', async () => {
    const one = await pemsOf('sensor-001');
    const two = await pemsOf('sensor-002');
    const spec = { rogue: false, credentials: { ca: one.caPath } };
    expect(() => deviceTlsFromPem(spec, one.ca, one.chain, two.key)).toThrow(/key values mismatch/);
  });

  it('two devices on one shared context each present their own leaf to the broker', async () => {
    const one = await pemsOf('sensor-001');
    const two = await pemsOf('sensor-002');
    const spec = { rogue: false, credentials: { ca: one.caPath } };
    const first = deviceTlsFromPem(spec, one.ca, one.chain, one.key);
    const second = deviceTlsFromPem(spec, two.ca, two.chain, two.key); // loaded last
    expect(first.context()).toBe(second.context()); // shared
    expect(await presentedCn(first.context())).toBe('sensor-001');
    expect(await presentedCn(second.context())).toBe('sensor-002');
    expect(first.leafFingerprint).not.toBe(second.leafFingerprint);
  });
});
