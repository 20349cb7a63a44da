import { identityFiles, pkiLayout } from './layout.ts';
import { readPkiFile as read } from './read-pki-file.ts';

export interface TrustMaterial {
  /** The root CA (PEM): what a peer trusts. */
  ca: string;
  /**
   * Root and issuing CA CRLs (PEM), one string each: with CRLs loaded, OpenSSL wants one for every CA in the chain,
   * and Node reads only the first CRL of a single PEM string — so pass this array to `tls` as it is.
   */
  crl: string[];
  /** The broker's chain (leaf + issuing CA). */
  serverCert: string;
  serverKey: string;
}

export async function loadTrustMaterial(stateDir: string): Promise<TrustMaterial> {
  const layout = pkiLayout(stateDir);
  const server = identityFiles(layout, 'server');
  const [ca, rootCrl, issuingCrl, serverCert, serverKey] = await Promise.all([
    read(layout.rootCert),
    read(layout.rootCrl),
    read(layout.issuingCrl),
    read(server.chain),
    read(server.key),
  ]);
  return { ca, crl: [rootCrl, issuingCrl], serverCert, serverKey };
}
