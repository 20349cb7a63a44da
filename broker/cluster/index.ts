/** A broker as a node of a cluster on Redis: see cluster-parts.ts. */
export { type ClusterOptions, type ClusterParts, createClusterParts } from './cluster-parts.ts';
export { defaultNodeId, validateNodeId } from './node-id.ts';
export { parseRedisUrl } from './redis-url.ts';
export { CrlRejected, verifyCrl, verifyCrlBundle } from './crl-signature.ts';
export {
  type LocalCluster,
  type LocalNode,
  startLocalCluster,
  validateClusterSize,
} from './local-cluster.ts';
