/** The certificate authority: node-forge lays out the X.509 structures, node:crypto makes keys and signatures. */
export { pkiLayout } from './layout.ts';
export { initPki, ensurePki, ROOT_NAME, ISSUING_NAME } from './init.ts';
export { issueIdentities, ensureIdentity, ensureIdentities } from './issue.ts';
export { revokeIdentity, refreshCrlsIfDue, resignCrls, type RevokeResult } from './revoke.ts';
export { onPkiNotice } from './recovery.ts';
export { CrlProblem, checkCrl, parseCrl, signedBy, type ParsedCrl } from './crl-verify.ts';
export { generateRogueKit, rogueCredential } from './rogue.ts';
export { listIdentities, showIdentity } from './catalog.ts';
export { loadTrustMaterial, type TrustMaterial } from './trust.ts';
export { readCrl, type CrlSummary } from './crl.ts';
export { validateDeviceId, validateIdentityName, isReservedId, RESERVED_IDS } from './identity-id.ts';
export { DEFAULT_POLICY_YAML } from './default-policy.ts';
export * from './types.ts';
export { diagnoseClientCertificate, signatureAlgorithmOid, type Refusal } from './diagnosis.ts';
// Enrollment over MQTT (issue #14): CSRs, claim certificates, and what the broker's enrollment service signs with.
export { buildCsr, parseCsr, CsrError, type ParsedCsr } from './csr.ts';
export {
  issueClaim,
  readClaim,
  claimNameOfCn,
  isClaimCn,
  templateMatcher,
  CLAIM_PREFIX,
  type ClaimConfig,
} from './claims.ts';
export { loadIssuingCa, type CertificateAuthority } from './authority.ts';
export { buildCertificate } from './certificate-builder.ts';
export { leafValidity } from './issue.ts';
export { readIndex } from './index-file.ts';
export {
  enrollmentLedgerPath,
  readEnrollmentRecords,
  parseEnrollmentRecords,
  type EnrollmentRecord,
} from './enrollment-record.ts';
