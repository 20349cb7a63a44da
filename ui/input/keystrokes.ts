/**
 * Ink hands over a run of plain characters as one input ("jjj", or "ping\r" when typed faster than the UI reads; Ink
 * already splits escape sequences off): split it into single keystrokes so every one counts, with the control
 * characters inside it acting as the keys they are (Enter, Backspace, Tab, Ctrl-U…), never as text.
 */
import type { Key } from 'ink';

export function splitKeystrokes(input: string, key: Key): [string, Key][] {
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
