/** The headless run's outcome: counts, rejections grouped by reason, and per-device results for --json. */
import { describeReason, isReason } from '../core/reasons.ts';
import type { DeviceResult } from './device.ts';
import { retryCause } from './diagnosis.ts';
import { LADDER_STEPS } from './events.ts';

export interface FleetSummary {
  broker: string;
  devices: number;
  rogues: number;
  online: number;
  rejected: number;
  other: Record<string, number>;
  rejectedByReason: Record<string, string[]>;
  /** The devices still retrying, grouped by why their last attempt failed (most first). */
  backingOff: BackingOffGroup[];
  messages: { sent: number; acked: number; commandsReceived: number };
  /** Certificates renewed over MQTT during the run, all devices together. */
  rotations: number;
  errors: string[];
  /** Against a cluster: the online devices per node (node id, or the URL of a node of `--broker a,b`). */
  onlineByNode?: Record<string, number>;
  results: Array<DeviceResult & { failedStep?: string; node?: string }>;
}

export interface BackingOffGroup {
  /** The reason code (absent for a device rebooting on a command). */
  reason?: string;
  /** In a few words: "broker busy", "connection refused", "rebooting". */
  cause: string;
  count: number;
  ids: string[];
}

/**
 * `final` holds each device's state just before the fleet was stopped (online, backing-off, rejected…);
 * `stopped` the results after the clean stop (final message counts).
 */
export function summarize(
  broker: string,
  final: DeviceResult[],
  stopped: DeviceResult[],
  errors: string[],
  /** Against a cluster: the node at a device's `broker` address (`host:port`). */
  nodeOf?: (address: string) => string,
): FleetSummary {
  const counts = new Map(stopped.map((result) => [result.id, result.messages]));
  const results = final.map((result) => ({
    ...result,
    messages: counts.get(result.id) ?? result.messages,
    ...(result.step !== undefined && { failedStep: result.step }),
    ...(nodeOf && result.broker !== undefined && { node: nodeOf(result.broker) }),
  }));
  let onlineByNode: Record<string, number> | undefined;
  if (nodeOf) {
    onlineByNode = {};
    for (const result of results)
      if (result.state === 'online' && result.node)
        onlineByNode[result.node] = (onlineByNode[result.node] ?? 0) + 1;
  }
  const rejectedByReason: Record<string, string[]> = {};
  const other: Record<string, number> = {};
  for (const result of results) {
    if (result.state === 'rejected') {
      const reason = result.reason ?? 'UNKNOWN';
      rejectedByReason[reason] = [...(rejectedByReason[reason] ?? []), result.id];
    } else if (result.state !== 'online') other[result.state] = (other[result.state] ?? 0) + 1;
  }
  const backingOff = groupBackingOff(results.filter((result) => result.state === 'backing-off'));
  const sum = (pick: (result: DeviceResult) => number) =>
    results.reduce((total, result) => total + pick(result), 0);
  return {
    broker,
    devices: results.length,
    rogues: results.filter((result) => result.rogue).length,
    online: results.filter((result) => result.state === 'online').length,
    rejected: results.filter((result) => result.state === 'rejected').length,
    other,
    rejectedByReason,
    backingOff,
    messages: {
      sent: sum((result) => result.messages.sent),
      acked: sum((result) => result.messages.acked),
      commandsReceived: sum((result) => result.messages.received),
    },
    rotations: sum((result) => result.rotations ?? 0),
    errors,
    ...(onlineByNode && { onlineByNode }),
    results,
  };
}

export function formatSummary(summary: FleetSummary): string {
  const lines = [
    `${summary.devices} device(s) (${summary.rogues} rogue) against ${summary.broker}`,
    `  online:   ${summary.online}${byNode(summary.onlineByNode)}`,
    `  rejected: ${summary.rejected}`,
  ];
  for (const [reason, ids] of Object.entries(summary.rejectedByReason).sort()) {
    const words = isReason(reason) ? describeReason(reason) : reason;
    const step = summary.results.find((result) => result.id === ids[0])?.failedStep;
    const stepText = step ? ` at step ${LADDER_STEPS.indexOf(step as never) + 1} (${step})` : '';
    lines.push(`    ${reason}${stepText}: ${words} — ${ids.join(', ')}`);
  }
  for (const [state, count] of Object.entries(summary.other)) {
    const why = state === 'backing-off' ? retryCauses(summary.backingOff) : '';
    lines.push(`  ${state}: ${count}${why}`);
  }
  lines.push(
    `  messages: ${summary.messages.sent} sent, ${summary.messages.acked} acknowledged, ` +
      `${summary.messages.commandsReceived} command(s) received`,
    ...(summary.rotations > 0 ? [`  rotated:  ${summary.rotations} certificate(s) renewed over MQTT`] : []),
    `  errors:   ${summary.errors.length}`,
    ...summary.errors.slice(0, 10).map((error) => `    ${error}`),
  );
  return lines.join('\n');
}

/** ` (local-1: 5, local-2: 5)`: where the online devices are, against a cluster. */
function byNode(counts: Record<string, number> | undefined): string {
  if (!counts) return '';
  const parts = Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
    .map(([node, count]) => `${node}: ${count}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** Retrying devices by cause, most first (ties by cause): the groups `devices run` prints and returns in --json. */
function groupBackingOff(results: readonly DeviceResult[]): BackingOffGroup[] {
  const groups = new Map<string, BackingOffGroup>();
  for (const result of results) {
    const cause = isReason(result.reason)
      ? retryCause(result.reason, result.detail)
      : (result.detail ?? 'unknown');
    const group = groups.get(cause);
    if (group) {
      group.count++;
      group.ids.push(result.id);
    } else
      groups.set(cause, {
        ...(result.reason && { reason: result.reason }),
        cause,
        count: 1,
        ids: [result.id],
      });
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause));
}

/** ` (broker busy: 10, connection refused: 2)`. */
function retryCauses(groups: readonly BackingOffGroup[]): string {
  return groups.length > 0 ? ` (${groups.map((group) => `${group.cause}: ${group.count}`).join(', ')})` : '';
}
