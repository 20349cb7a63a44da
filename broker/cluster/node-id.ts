/**
 * A node's name in the cluster: aedes uses it as its broker id (Redis keys of wills and in-flight QoS 1/2 queues
 * carry it) and every audit record of the node says it. So it must be stable across a restart of the same node, and
 * unique among live nodes (cluster-parts.ts claims it in Redis).
 */
import { hostname } from 'node:os';
import { UserError } from '../../core/user-error.ts';

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 40) || 'node';
  return `${host}-${process.pid}`;
}

export function validateNodeId(id: string): string {
  if (!NODE_ID.test(id)) {
    throw new UserError(
      'cannot use --node-id',
      `'${id}' is not a node name (letters, digits, '.', '_', '-'; 1–64 characters; starting with a letter or digit)`,
      'Example: --node-id broker-a',
    );
  }
  return id;
}
