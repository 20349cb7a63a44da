/** The reference broker's configuration: same trust, required client certificates, CN as user, the policy's ACL. */
import { describe, expect, it } from 'vitest';
import { mosquittoAcl, mosquittoConfig } from '../../bench/lib/mosquitto-config.ts';

describe('mosquittoConfig', () => {
  const config = mosquittoConfig({
    port: 18883,
    cafile: '/s/pki/root/ca.crt',
    certfile: '/s/pki/identities/server/chain.pem',
    keyfile: '/s/pki/identities/server/key.pem',
    crlfile: '/s/pki/crl-bundle.pem',
    aclFile: '/s/acl',
    logFile: '/s/log',
  });
  const lines = config.split('\n');

  it('listens on loopback only, with mutual TLS against our root and both CRLs', () => {
    expect(lines).toContain('listener 18883 127.0.0.1');
    expect(lines).toContain('cafile /s/pki/root/ca.crt');
    expect(lines).toContain('certfile /s/pki/identities/server/chain.pem');
    expect(lines).toContain('crlfile /s/pki/crl-bundle.pem');
    expect(lines).toContain('require_certificate true');
    expect(lines).toContain('use_identity_as_username true');
    expect(lines).toContain('acl_file /s/acl');
    expect(lines).toContain('allow_anonymous false');
  });

  it('runs as root with no persistence, so key files need no other owner and runs do not leak into each other', () => {
    expect(lines).toContain('user root');
    expect(lines).toContain('persistence false');
  });
});

describe('mosquittoAcl', () => {
  it("confines every CN to the default policy's device topics and gives the dashboard its grants", () => {
    const acl = mosquittoAcl().split('\n');
    expect(acl).toEqual(
      expect.arrayContaining([
        'pattern write devices/%u/telemetry',
        'pattern write devices/%u/status',
        'pattern write devices/%u/replies',
        'pattern read devices/%u/commands/#',
        'user dashboard',
        'topic write devices/+/commands/#',
        'topic read devices/+/#',
      ]),
    );
  });
});
