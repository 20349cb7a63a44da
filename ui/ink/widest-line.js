// Ink's `widest-line`, remembered: the same answer for the same text (a pure function of it), computed once while the
// text stays on screen. Two generations of at most GENERATION texts bound the memory.
const original = new URL(import.meta.url).searchParams.get('original');
const { default: widestLine } = await import(original);
const GENERATION = 4000;
let current = new Map();
let previous = new Map();
// Says (to tests, and to anyone debugging) that Ink measures through this module.
globalThis[Symbol.for('certfleet.ink.rememberedWidestLine')] = true;

export default function rememberedWidestLine(text) {
  let width = current.get(text);
  if (width !== undefined) return width;
  width = previous.get(text) ?? widestLine(text);
  if (current.size >= GENERATION) {
    previous = current;
    current = new Map();
  }
  current.set(text, width);
  return width;
}
