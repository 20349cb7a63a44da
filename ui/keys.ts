/**
 * Keyboard handling as a pure function: (UI state, key, what is on screen) → next UI state and, maybe, an action for
 * the App to carry out (add, revoke…). Keeping it pure makes every key testable without a terminal.
 */
import type { Key } from 'ink';
import type { DeviceProfile } from '../devices/events.ts';
import type { RogueKind } from '../core/rogues.ts';
import { PROFILE_ITEMS, ROGUE_ITEMS } from './catalogue.ts';
import { clamp } from './store/window.ts';

export type Pane = 'devices' | 'events';

export type Mode =
  | { kind: 'normal' }
  | { kind: 'help' }
  | { kind: 'menu'; menu: 'add' | 'rogue'; index: number }
  | { kind: 'prompt'; prompt: 'command' | 'filter'; text: string };

export interface UiState {
  mode: Mode;
  focus: Pane;
  /** The selected device, and its last index (where the selection lands if that device disappears). */
  selectedId?: string;
  selectedIndex: number;
  /** Event log lines scrolled back from the newest (0 = follow the tail). */
  logOffset: number;
  filter: string;
}

export type Action =
  | { type: 'quit' }
  | { type: 'add-device'; profile: DeviceProfile }
  | { type: 'add-rogue'; kind: RogueKind }
  | { type: 'revoke'; id: string }
  | { type: 'toggle-pause'; id: string }
  | { type: 'remove'; id: string }
  | { type: 'command'; id: string; command: string }
  | { type: 'notice'; text: string };

/** What the screen shows right now: needed to move the selection and page. */
export interface KeyContext {
  visibleIds: readonly string[];
  listHeight: number;
  logLength: number;
  logHeight: number;
}

export const initialUiState: UiState = {
  mode: { kind: 'normal' },
  focus: 'devices',
  selectedIndex: 0,
  logOffset: 0,
  filter: '',
};

export interface KeyResult {
  state: UiState;
  action?: Action;
}

/**
 * Ink hands over a run of plain characters as one input ("jjj", or "ping\r" when typed faster than the UI reads):
 * split it into single keystrokes so every one counts, and Enter/Backspace/Tab inside it act as keys.
 */
export function splitKeystrokes(input: string, key: Key): [string, Key][] {
  if (input.length <= 1 || key.ctrl || key.meta || input.startsWith('\u001b')) return [[input, key]];
  const plain: Key = { ...key, return: false, backspace: false, delete: false, tab: false, shift: false };
  return [...input].map((ch): [string, Key] => {
    if (ch === '\r' || ch === '\n') return ['', { ...plain, return: true }];
    if (ch === '\u007f' || ch === '\b') return ['', { ...plain, backspace: true }];
    if (ch === '\t') return ['', { ...plain, tab: true }];
    return [ch, plain];
  });
}

/** The index of the selection within the visible list (falls back to the remembered position). */
export function selectedPosition(state: UiState, visibleIds: readonly string[]): number {
  if (visibleIds.length === 0) return -1;
  const found = state.selectedId === undefined ? -1 : visibleIds.indexOf(state.selectedId);
  return found >= 0 ? found : clamp(state.selectedIndex, 0, visibleIds.length - 1);
}

export function handleKey(state: UiState, input: string, key: Key, context: KeyContext): KeyResult {
  if (key.ctrl && input === 'c') return { state, action: { type: 'quit' } };
  switch (state.mode.kind) {
    case 'help':
      return { state: { ...state, mode: { kind: 'normal' } } };
    case 'menu':
      return menuKey(state, state.mode, input, key);
    case 'prompt':
      return promptKey(state, state.mode, input, key, context);
    case 'normal':
      return normalKey(state, input, key, context);
  }
}

function menuKey(state: UiState, mode: Extract<Mode, { kind: 'menu' }>, input: string, key: Key): KeyResult {
  const items = mode.menu === 'add' ? PROFILE_ITEMS : ROGUE_ITEMS;
  if (key.escape || input === 'q') return { state: { ...state, mode: { kind: 'normal' } } };
  const move = (index: number): KeyResult => ({
    state: { ...state, mode: { ...mode, index: clamp(index, 0, items.length - 1) } },
  });
  if (key.upArrow || input === 'k') return move(mode.index - 1);
  if (key.downArrow || input === 'j') return move(mode.index + 1);
  if (key.home) return move(0);
  if (key.end) return move(items.length - 1);
  if (key.return) {
    const normal = { ...state, mode: { kind: 'normal' } as const };
    if (mode.menu === 'add') {
      const item = PROFILE_ITEMS[mode.index];
      return item
        ? { state: normal, action: { type: 'add-device', profile: item.value } }
        : { state: normal };
    }
    const item = ROGUE_ITEMS[mode.index];
    return item ? { state: normal, action: { type: 'add-rogue', kind: item.value } } : { state: normal };
  }
  return { state };
}

function promptKey(
  state: UiState,
  mode: Extract<Mode, { kind: 'prompt' }>,
  input: string,
  key: Key,
  context: KeyContext,
): KeyResult {
  const normal = { ...state, mode: { kind: 'normal' } as const };
  if (key.escape) return { state: normal };
  if (key.return) {
    if (mode.prompt === 'filter') return { state: { ...normal, filter: mode.text.trim(), logOffset: 0 } };
    const id = context.visibleIds[selectedPosition(state, context.visibleIds)];
    const command = mode.text.trim();
    if (!id || command === '') return { state: normal, action: { type: 'notice', text: 'no command sent' } };
    return { state: normal, action: { type: 'command', id, command } };
  }
  if (key.backspace || key.delete)
    return { state: { ...state, mode: { ...mode, text: mode.text.slice(0, -1) } } };
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow) return { state };
  return { state: { ...state, mode: { ...mode, text: mode.text + input } } };
}

function normalKey(state: UiState, input: string, key: Key, context: KeyContext): KeyResult {
  const position = selectedPosition(state, context.visibleIds);
  const selected = position >= 0 ? context.visibleIds[position] : undefined;
  const needsDevice = (make: (id: string) => Action): KeyResult =>
    selected
      ? { state, action: make(selected) }
      : { state, action: { type: 'notice', text: 'no device selected' } };
  switch (input) {
    case 'q':
      return { state, action: { type: 'quit' } };
    case '?':
      return { state: { ...state, mode: { kind: 'help' } } };
    case 'a':
      return { state: { ...state, mode: { kind: 'menu', menu: 'add', index: 0 } } };
    case 'r':
      return { state: { ...state, mode: { kind: 'menu', menu: 'rogue', index: 0 } } };
    case '/':
      return { state: { ...state, mode: { kind: 'prompt', prompt: 'filter', text: state.filter } } };
    case 'c':
      if (!selected) return { state, action: { type: 'notice', text: 'no device selected' } };
      return { state: { ...state, mode: { kind: 'prompt', prompt: 'command', text: '' } } };
    case 'x':
      return needsDevice((id) => ({ type: 'revoke', id }));
    case 'p':
      return needsDevice((id) => ({ type: 'toggle-pause', id }));
    case 'd':
      return needsDevice((id) => ({ type: 'remove', id }));
  }
  if (key.escape && state.filter !== '') return { state: { ...state, filter: '' } };
  if (key.tab) return { state: { ...state, focus: state.focus === 'devices' ? 'events' : 'devices' } };
  const delta = movement(input, key, state.focus === 'devices' ? context.listHeight : context.logHeight);
  if (delta === undefined) return { state };
  if (state.focus === 'events') {
    // Up scrolls back in time; the offset counts lines back from the newest.
    const maxOffset = Math.max(0, context.logLength - context.logHeight);
    return { state: { ...state, logOffset: clamp(state.logOffset - delta, 0, maxOffset) } };
  }
  if (context.visibleIds.length === 0) return { state };
  const index = clamp(Math.max(position, 0) + delta, 0, context.visibleIds.length - 1);
  return { state: { ...state, selectedIndex: index, selectedId: context.visibleIds[index] } };
}

/** Rows to move for a navigation key (Home/End as ±infinity, clamped by the caller); undefined if not one. */
function movement(input: string, key: Key, page: number): number | undefined {
  if (key.upArrow || input === 'k') return -1;
  if (key.downArrow || input === 'j') return 1;
  if (key.pageUp) return -Math.max(1, page - 1);
  if (key.pageDown) return Math.max(1, page - 1);
  if (key.home) return -Number.MAX_SAFE_INTEGER;
  if (key.end) return Number.MAX_SAFE_INTEGER;
  return undefined;
}
