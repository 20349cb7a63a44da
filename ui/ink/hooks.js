// Module resolution hooks the dashboard registers before it loads Ink 6.8 (see ./install.ts). Two of Ink's modules
// are replaced by exact, cheaper equivalents, for Ink's own imports only:
// - `widest-line`: Ink measures every text node with it on every frame (string-width over each line, a grapheme
//   segmenter for any non-ASCII character: the › ● ▁ … of the device list); ./widest-line.js remembers the widths.
// - `./measure-text.js`: Ink's keeps every text it ever measured in a Map that is never cleared — with a thousand
//   devices' changing readings the UI heap only grows; ./measure-text.js keeps a bounded cache instead.
// Plain JavaScript: hooks run on Node's loader thread, before any TypeScript loader.
const REPLACED = { 'widest-line': './widest-line.js', './measure-text.js': './measure-text.js' };
const OURS = new URL('./', import.meta.url).href;
let inkParent;

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL ?? '';
  const fromInk = /\/node_modules\/ink\/build\//.test(parent);
  const replacement = REPLACED[specifier];
  if (!replacement || !(fromInk || (inkParent && parent.startsWith(OURS))))
    return nextResolve(specifier, context);
  if (fromInk) inkParent = parent;
  // The original, as Ink would have loaded it: our module wraps or mirrors exactly that one.
  const original = await nextResolve(specifier, { ...context, parentURL: inkParent });
  const url = new URL(replacement, import.meta.url);
  url.searchParams.set('original', original.url);
  return { url: url.href, format: 'module', shortCircuit: true };
}
