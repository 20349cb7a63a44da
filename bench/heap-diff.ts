/**
 * Compares two V8 heap snapshots by constructor: what grew between them, per added unit (device, connection).
 *   node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot <units added> [rows=30] [--owners]
 * `--owners` splits arrays and closures by what holds them (first retainer and edge name).
 * Snapshots come from `v8.writeHeapSnapshot()` (e.g. bench/loadgen/device-hold.ts with `heapSnapshotDir`).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/**
 * For each node (by index), the first object that points to it and the edge's name: who holds an array. An owner
 * without a name (a null-prototype object such as an EventEmitter's `_events`) is named by its own owner.
 */
function owners(data: Snapshot): Map<number, string> {
  const direct = firstRetainers(data);
  const result = new Map<number, string>();
  for (const [node, { owner, edge }] of direct) {
    const parent = owner.name === '' ? direct.get(owner.index) : undefined;
    result.set(node, parent ? `${parent.owner.name}.${parent.edge}.${edge}` : `${owner.name}.${edge}`);
  }
  return result;
}

function firstRetainers(
  data: Snapshot,
): Map<number, { owner: { index: number; name: string }; edge: string }> {
  const fields = data.snapshot.meta.node_fields;
  const width = fields.length;
  const edgeFields = data.snapshot.meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const edgeTypes = data.snapshot.meta.edge_types[0];
  const [edgeCountAt, nameAt] = ['edge_count', 'name'].map((field) => fields.indexOf(field));
  const [edgeTypeAt, edgeNameAt, toAt] = ['type', 'name_or_index', 'to_node'].map((f) =>
    edgeFields.indexOf(f),
  );
  const result = new Map<number, { owner: { index: number; name: string }; edge: string }>();
  let edge = 0;
  for (let i = 0; i < data.nodes.length; i += width) {
    const count = data.nodes[i + edgeCountAt!]!;
    const owner = data.strings[data.nodes[i + nameAt!]!]!.slice(0, 40);
    for (let e = 0; e < count; e++, edge += edgeWidth) {
      const to = data.edges[edge + toAt!]!;
      if (result.has(to)) continue;
      const type = edgeTypes[data.edges[edge + edgeTypeAt!]!];
      if (type === 'weak') continue;
      const raw = data.edges[edge + edgeNameAt!]!;
      const name = type === 'element' || type === 'hidden' ? `[${type}]` : data.strings[raw]!;
      result.set(to, { owner: { index: i, name: owner }, edge: name.slice(0, 30) });
    }
  }
  return result;
}

/** Count and self size per "type:name" (objects by constructor; strings, code, closures by kind). */
function groups(path: string, byOwner: boolean): Map<string, { count: number; bytes: number }> {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const heldBy = byOwner ? owners(data) : new Map<number, string>();
  const result = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt!]!]!;
    const named = type === 'object' || type === 'native' || type === 'closure';
    const name = named ? data.strings[data.nodes[i + nameAt!]!]! : '';
    const owner = type === 'array' || type === 'closure' ? heldBy.get(i) : undefined;
    const key = `${type}:${name.slice(0, 40)}${owner ? ` ← ${owner}` : ''}`;
    const entry = result.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += data.nodes[i + sizeAt!]!;
    result.set(key, entry);
  }
  return result;
}

const byOwner = process.argv.includes('--owners');
const [beforePath, afterPath, unitsArg, rowsArg = '30'] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'));
if (!beforePath || !afterPath || !unitsArg) {
  process.stderr.write('usage: heap-diff.ts before.heapsnapshot after.heapsnapshot <units added> [rows]\n');
  process.exit(2);
}
const units = Number(unitsArg);
const before = groups(beforePath, byOwner);
const after = groups(afterPath, byOwner);
const rows = [...after].map(([key, now]) => {
  const was = before.get(key) ?? { count: 0, bytes: 0 };
  return { key, perUnit: (now.count - was.count) / units, bytesPerUnit: (now.bytes - was.bytes) / units };
});
rows.sort((a, b) => b.bytesPerUnit - a.bytesPerUnit);
const total = rows.reduce((sum, row) => sum + row.bytesPerUnit, 0);
process.stdout.write(`heap growth per unit: ${(total / 1024).toFixed(2)} KiB\n`);
console.table(
  rows.slice(0, Number(rowsArg)).map((row) => ({
    group: row.key,
    'objects/unit': Number(row.perUnit.toFixed(2)),
    'bytes/unit': Math.round(row.bytesPerUnit),
  })),
);
