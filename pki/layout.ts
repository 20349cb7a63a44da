import { join, resolve, sep } from 'node:path';
import type { PkiLayout } from './types.ts';

/**
 * Where everything lives. Plain PEM files in a layout openssl and Mosquitto accept as they are:
 *   pki/root/{ca.crt,ca.key,crl.pem}  pki/issuing/{ca.crt,ca.key,crl.pem}  pki/ca-bundle.pem  pki/crl-bundle.pem
 *   pki/identities/<id>/{cert.pem,key.pem,chain.pem}  pki/rogue/<kind>/…  pki/index.json
 *   pki/issue-journal.json (only while an issuance runs, or after it crashed)
 */
export function pkiLayout(stateDir: string, pkiDirOverride?: string): PkiLayout {
  const root = resolve(stateDir);
  const pkiDir = pkiDirOverride ?? join(root, 'pki');
  return {
    stateDir: root,
    pkiDir,
    rootCert: join(pkiDir, 'root', 'ca.crt'),
    rootKey: join(pkiDir, 'root', 'ca.key'),
    rootCrl: join(pkiDir, 'root', 'crl.pem'),
    issuingCert: join(pkiDir, 'issuing', 'ca.crt'),
    issuingKey: join(pkiDir, 'issuing', 'ca.key'),
    issuingCrl: join(pkiDir, 'issuing', 'crl.pem'),
    crlBundle: join(pkiDir, 'crl-bundle.pem'),
    caBundle: join(pkiDir, 'ca-bundle.pem'),
    identitiesDir: join(pkiDir, 'identities'),
    rogueDir: join(pkiDir, 'rogue'),
    index: join(pkiDir, 'index.json'),
    journal: join(pkiDir, 'issue-journal.json'),
    lastGoodCrl: join(root, 'broker', 'crl-last-good.pem'),
    lockTarget: join(root, 'pki'),
    policy: join(root, 'policy.yaml'),
  };
}

export function identityDir(layout: PkiLayout, id: string): string {
  const rogue = /^rogue-(.+)$/.exec(id);
  return rogue ? join(layout.rogueDir, rogue[1]!) : join(layout.identitiesDir, id);
}

export function identityFiles(layout: PkiLayout, id: string): { cert: string; key: string; chain: string } {
  const dir = identityDir(layout, id); // normalized by join: the names are appended (join costs µs each, ×3 per id)
  return { cert: `${dir}${sep}cert.pem`, key: `${dir}${sep}key.pem`, chain: `${dir}${sep}chain.pem` };
}
