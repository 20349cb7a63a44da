// Ink's measure-text.js (6.8) with a bounded cache: Ink's own never forgets a text. Same results: width is the
// widest line, height the number of lines.
import widestLine from 'widest-line';

const GENERATION = 4000;
let current = new Map();
let previous = new Map();

const measureText = (text) => {
  if (text.length === 0) return { width: 0, height: 0 };
  let dimensions = current.get(text) ?? previous.get(text);
  if (dimensions === undefined) dimensions = { width: widestLine(text), height: text.split('\n').length };
  if (current.size >= GENERATION) {
    previous = current;
    current = new Map();
  }
  current.set(text, dimensions);
  return dimensions;
};

export default measureText;
