/**
 * The audit record's type, topic and parser live in core/audit.ts: the devices and the dashboard read what the
 * broker writes, so all three share one definition. Add new audit events there.
 */
export * from '../core/audit.ts';
