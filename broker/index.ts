/** The mTLS broker: Aedes behind a certificate gate, CN → policy, every decision audited. */
export { startBroker, type BrokerOptions, type RunningBroker } from './broker.ts';
export { AUDIT_TOPIC, type AuditRecord, type AuditEvent, type AuditCertificate } from './audit-record.ts';
export { readAuditLog } from './audit-log.ts';
export { DEFAULT_LIMITS, type BrokerLimits } from './limits.ts';
export { loadPolicy, parsePolicy } from './policy-load.ts';
export type { Policy, Grant } from './policy.ts';
export { isFilterCovered, matchTopic, topicFilterError } from './topic-filter.ts';
export { escapeUntrusted } from './untrusted-text.ts';
