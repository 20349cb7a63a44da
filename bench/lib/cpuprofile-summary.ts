/**
 * The part of a V8 .cpuprofile (node --cpu-prof) a person reads: self time per function, and inclusive time of
 * chosen functions (e.g. how much of the run sits under `onhandshakedone`).
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  fn: string;
  where: string;
  selfMs: number;
  selfPercent: number;
}

function label(node: ProfileNode): { fn: string; where: string } {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/work\/main\//, '');
  return { fn: functionName || '(anonymous)', where: file ? `${file}:${lineNumber + 1}` : '' };
}

/** Self time per function (summed over every call site), largest first. */
export async function summarizeProfile(
  path: string,
  top = 25,
): Promise<{ totalMs: number; lines: ProfileLine[] }> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const totals = new Map<string, { fn: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { fn, where } = label(node);
    const key = `${fn} ${where}`;
    const entry = totals.get(key) ?? { fn, where, us: 0 };
    entry.us += us;
    totals.set(key, entry);
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const lines = [...totals.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((entry) => ({
      fn: entry.fn,
      where: entry.where,
      selfMs: entry.us / 1000,
      selfPercent: (100 * entry.us) / totalUs,
    }));
  return { totalMs: totalUs / 1000, lines };
}

/** Inclusive time under each function whose name matches, as a share of all samples (idle included). */
export async function inclusiveShare(
  path: string,
  names: readonly string[],
): Promise<Record<string, number>> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totalUs = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const result: Record<string, number> = {};
  for (const name of names) {
    let us = 0;
    profile.samples.forEach((id, index) => {
      for (let cursor: number | undefined = id; cursor !== undefined; cursor = parent.get(cursor)) {
        if (byId.get(cursor)?.callFrame.functionName === name) {
          us += profile.timeDeltas[index] ?? 0;
          break;
        }
      }
    });
    result[name] = (100 * us) / totalUs;
  }
  return result;
}
