/** The topic names other tools rely on (DESIGN.md "Names other tools rely on"). */
export const topics = {
  telemetry: (id: string) => `devices/${id}/telemetry`,
  status: (id: string) => `devices/${id}/status`,
  commands: (id: string) => `devices/${id}/commands/#`,
  commandPrefix: (id: string) => `devices/${id}/commands/`,
  replies: (id: string) => `devices/${id}/replies`,
} as const;

export interface TelemetryPayload {
  id: string;
  seq: number;
  ts: number;
  [field: string]: number | string | boolean;
}

export function telemetryPayload(
  id: string,
  seq: number,
  ts: number,
  reading: Record<string, number | string | boolean>,
): string {
  return JSON.stringify({ ...reading, id, seq, ts });
}
