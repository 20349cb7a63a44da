/**
 * Ink hands over a run of plain characters as one input ("jjj", or "ping\r" when typed faster than the UI reads; Ink
 * already splits escape sequences off): split it into single keystrokes so every one counts, with the control
 * characters inside it acting as the keys they are (Enter, Backspace, Tab, Ctrl-U…), never as text.
 *
 * Esc then a letter typed quickly (or sent by tmux/a script) reaches us in one read as ESC+letter, which Ink reports as
 * Alt+letter. The dashboard binds nothing to Alt, so that is what the user did: Esc, then the letter. Read as Alt, the
 * Esc was lost and the letter went to whatever Esc should have closed (Esc q left a popup open instead of quitting).
 */
import type { Key } from 'ink';

export function splitKeystrokes(input: string, key: Key): [string, Key][] {
  if (isEscapeThenCharacter(input, key)) {
    return [
      ['', { ...key, escape: true }],
      [input, { ...key, meta: false, shift: /[A-Z]/.test(input) }],
    ];
  }
  if (input.length <= 1 || key.ctrl || key.meta || input.startsWith('\u001b')) return [[input, key]];
  const plain: Key = {
    ...key,
    return: false,
    backspace: false,
    delete: false,
    tab: false,
    shift: false,
    ctrl: false,
    escape: false,
  };
  return [...input].map((ch): [string, Key] => {
    if (ch === '\r' || ch === '\n') return ['', { ...plain, return: true }];
    if (ch === '\u007f' || ch === '\b') return ['', { ...plain, backspace: true }];
    if (ch === '\t') return ['', { ...plain, tab: true }];
    const code = ch.codePointAt(0) ?? 0;
    // Ctrl-A … Ctrl-Z arrive as 0x01 … 0x1a: the key Ink would report had they come alone.
    if (code >= 1 && code <= 26) return [String.fromCharCode(code + 96), { ...plain, ctrl: true }];
    if (code < 0x20) return ['', { ...plain, ctrl: true }];
    return [ch, { ...plain, shift: /[A-Z]/.test(ch) }];
  });
}

/** Ink's Alt+character: one printable character with meta set, and no arrow, page or other named key. */
function isEscapeThenCharacter(input: string, key: Key): boolean {
  if (!key.meta || key.escape || key.ctrl || input.length !== 1) return false;
  const named = key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown;
  return !named && !key.home && !key.end && !key.return && !key.tab && !key.backspace && !key.delete;
}
