/**
 * Readline-style editing of a one-line prompt, as a pure function: Ctrl-A/E (or Home/End) to the start/end,
 * Ctrl-B/F (or ←/→) by a character, Ctrl-U/K delete to the start/end, Ctrl-W the word before the cursor, Ctrl-D the
 * character under it, Backspace the one before. Control characters never become text.
 */
import type { Key } from 'ink';

export interface Line {
  text: string;
  /** Position of the cursor: 0 … text.length. */
  cursor: number;
}

/** True if the input is something to type (printable), not a control character or escape sequence remainder. */
export function isPrintable(input: string): boolean {
  if (input === '') return false;
  for (const ch of input) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)) return false;
  }
  return true;
}

/** The edited line, or undefined if the key is not an editing key (the caller decides what it means). */
export function editLine(line: Line, input: string, key: Key): Line | undefined {
  const { text, cursor } = line;
  const at = (position: number): Line => ({ text, cursor: Math.max(0, Math.min(text.length, position)) });
  if (key.ctrl) {
    switch (input) {
      case 'a':
        return at(0);
      case 'e':
        return at(text.length);
      case 'b':
        return at(cursor - 1);
      case 'f':
        return at(cursor + 1);
      case 'u':
        return { text: text.slice(cursor), cursor: 0 };
      case 'k':
        return { text: text.slice(0, cursor), cursor };
      case 'd':
        return { text: text.slice(0, cursor) + text.slice(cursor + 1), cursor };
      case 'w': {
        const before = text.slice(0, cursor).replace(/\S+\s*$/, '');
        return { text: before + text.slice(cursor), cursor: before.length };
      }
      case 'h':
        return backspace(line);
    }
    return line; // any other control key: ignored, never typed
  }
  if (key.home) return at(0);
  if (key.end) return at(text.length);
  if (key.leftArrow) return at(cursor - 1);
  if (key.rightArrow) return at(cursor + 1);
  // Terminals send DEL (0x7f) for Backspace, which Ink reports as `delete`.
  if (key.backspace || key.delete) return backspace(line);
  if (key.meta || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return undefined;
  if (!isPrintable(input)) return key.return || key.escape ? undefined : line;
  return { text: text.slice(0, cursor) + input + text.slice(cursor), cursor: cursor + input.length };
}

function backspace({ text, cursor }: Line): Line {
  if (cursor === 0) return { text, cursor };
  return { text: text.slice(0, cursor - 1) + text.slice(cursor), cursor: cursor - 1 };
}
