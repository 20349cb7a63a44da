/**
 * Renders one fixed Ink tree to a string and prints it as JSON — with the dashboard's Ink hooks when given --hooks.
 * Run as its own process by test/unit/ui-ink-hooks.test.ts (the hooks must be registered before Ink loads).
 */
import { installInkHooks } from '../../ui/ink/install.ts';

const hooked = process.argv.includes('--hooks') && installInkHooks();
const { createElement: h } = await import('react');
const { Box, Text, renderToString } = await import('ink');
const texts = [
  '› ● sensor-001  online  ▁▂▃▄▅▆▇█',
  '漢字と絵文字 👩‍👩‍👧 e\u0301',
  'a line much longer than the box it sits in, cut',
  'x',
];
const tree = h(Box, { flexDirection: 'column', width: 30 }, [
  ...texts.map((text, i) => h(Text, { key: `c${i}`, color: i % 2 ? 'red' : undefined }, text)),
  ...texts.map((text, i) => h(Text, { key: `t${i}`, wrap: 'truncate' }, text)),
  h(Box, { key: 'box', borderStyle: 'round', width: 12 }, h(Text, null, texts[1])),
  // Side by side, the measured widths place each text; one exactly as wide as its box must not wrap.
  h(Box, { key: 'row' }, ...texts.slice(0, 2).map((text, i) => h(Text, { key: i }, `${text.slice(0, 9)}|`))),
  h(Box, { key: 'exact', width: 10 }, h(Text, null, '› ●  ▁▂▃▄▅')),
]);
const output = renderToString(tree, { columns: 30 });
const active =
  (globalThis as Record<symbol, unknown>)[Symbol.for('certfleet.ink.rememberedWidestLine')] === true;
console.log(JSON.stringify({ hooked, active, output }));
