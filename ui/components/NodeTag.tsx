import { Text } from 'ink';

/** ` · on local-2`: the cluster node a device's session is on (nothing with a single broker). */
export function NodeTag({ node }: { readonly node?: string }) {
  return node ? <Text color="gray">{` · on ${node}`}</Text> : null;
}
