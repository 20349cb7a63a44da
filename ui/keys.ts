/**
 * Keyboard handling as a pure function: (UI state, key, what is on screen) → next UI state and, maybe, an action for
 * the App to carry out (add, revoke…). Keeping it pure makes every key testable without a terminal.
 */
import type { Key } from 'ink';
import type { DeviceProfile } from '../devices/events.ts';
import type { RogueKind } from '../core/rogues.ts';
import { PROFILE_ITEMS, ROGUE_ITEMS } from './catalogue.ts';
import { editLine } from './input/line-editor.ts';
import { nextSort, type SortKey } from './store/sort.ts';
import { clamp } from './store/window.ts';

export { splitKeystrokes } from './input/keystrokes.ts';

export type Pane = 'devices' | 'events';
export type PromptKind = 'command' | 'filter' | 'search';

export type Mode =
  | { kind: 'normal' }
  | { kind: 'help' }
  /** The selected device on the whole screen, scrolled `scroll` lines down (Enter opens it, Esc closes it). */
  | { kind: 'detail'; scroll: number }
  /** `count` is typed digits: add that many at once. */
  | { kind: 'menu'; menu: 'add' | 'rogue'; index: number; count: string }
  | { kind: 'prompt'; prompt: PromptKind; text: string; cursor: number; history: number }
  | { kind: 'confirm'; question: string; action: Action }
  /** How to connect to the broker as the selected device with mosquitto_pub/sub. */
  | { kind: 'connect'; id: string };

export interface UiState {
  mode: Mode;
  focus: Pane;
  /** The selected device, and its last index (where the selection lands if that device disappears). */
  selectedId?: string;
  selectedIndex: number;
  /** Event log lines scrolled back from the newest (0 = follow the tail). */
  logOffset: number;
  filter: string;
  sort: SortKey;
  /** What `/` searches for in the event log (when it has focus); n / N jump between matches. */
  logSearch: string;
  /** Commands sent this session, newest last: ↑ in the command prompt recalls them. */
  commandHistory: readonly string[];
}

export type Action =
  | { type: 'quit' }
  | { type: 'add-devices'; profile: DeviceProfile; count: number }
  | { type: 'add-rogue'; kind: RogueKind }
  | { type: 'revoke'; id: string }
  | { type: 'toggle-pause'; id: string }
  | { type: 'remove'; id: string }
  | { type: 'command'; id: string; command: string }
  | { type: 'notice'; text: string };

/** What the screen shows right now: needed to move the selection, page and scroll. */
export interface KeyContext {
  visibleIds: readonly string[];
  listHeight: number;
  logLength: number;
  logHeight: number;
  /** For "jump to the next rejected device". */
  isRejected?: (id: string) => boolean;
  /** Offsets (lines back from the newest, ascending) of the log lines matching the search. */
  searchHits?: readonly number[];
  /** Lines of the full-screen detail view, and how many fit. */
  detailLines?: number;
  detailHeight?: number;
}

export const MAX_BULK = 1000;
/** What ↑ offers in the command prompt once the history is exhausted: every command a device understands. */
export const COMMAND_EXAMPLES = ['ping', 'reboot', 'set-interval 2s', 'set-interval 500ms'] as const;

export const initialUiState: UiState = {
  mode: { kind: 'normal' },
  focus: 'devices',
  selectedIndex: 0,
  logOffset: 0,
  filter: '',
  sort: 'added',
  logSearch: '',
  commandHistory: [],
};

export interface KeyResult {
  state: UiState;
  action?: Action;
}

/** The index of the selection within the visible list (falls back to the remembered position). */
export function selectedPosition(state: UiState, visibleIds: readonly string[]): number {
  if (visibleIds.length === 0) return -1;
  const found = state.selectedId === undefined ? -1 : visibleIds.indexOf(state.selectedId);
  return found >= 0 ? found : clamp(state.selectedIndex, 0, visibleIds.length - 1);
}

const NORMAL: Mode = { kind: 'normal' };

export function handleKey(state: UiState, input: string, key: Key, context: KeyContext): KeyResult {
  if (key.ctrl && input === 'c') return { state, action: { type: 'quit' } };
  switch (state.mode.kind) {
    case 'help':
      return { state: { ...state, mode: NORMAL } };
    case 'menu':
      return menuKey(state, state.mode, input, key);
    case 'prompt':
      return promptKey(state, state.mode, input, key, context);
    case 'confirm':
      if (input === 'y' || input === 'Y' || key.return)
        return { state: { ...state, mode: NORMAL }, action: state.mode.action };
      return { state: { ...state, mode: NORMAL }, action: { type: 'notice', text: 'cancelled' } };
    case 'connect':
      return { state: { ...state, mode: NORMAL } };
    case 'detail':
      return detailKey(state, state.mode, input, key, context);
    case 'normal':
      return normalKey(state, input, key, context);
  }
}

function menuKey(state: UiState, mode: Extract<Mode, { kind: 'menu' }>, input: string, key: Key): KeyResult {
  const items = mode.menu === 'add' ? PROFILE_ITEMS : ROGUE_ITEMS;
  if (key.escape || input === 'q') return { state: { ...state, mode: NORMAL } };
  const move = (index: number): KeyResult => ({
    state: { ...state, mode: { ...mode, index: clamp(index, 0, items.length - 1) } },
  });
  if (key.upArrow || input === 'k') return move(mode.index - 1);
  if (key.downArrow || input === 'j') return move(mode.index + 1);
  if (key.home) return move(0);
  if (key.end) return move(items.length - 1);
  if (mode.menu === 'add' && /^[0-9]$/.test(input) && mode.count.length < 4) {
    return { state: { ...state, mode: { ...mode, count: (mode.count + input).replace(/^0+/, '') } } };
  }
  if (key.backspace || key.delete)
    return { state: { ...state, mode: { ...mode, count: mode.count.slice(0, -1) } } };
  if (key.return) {
    const normal = { ...state, mode: NORMAL };
    if (mode.menu === 'add') {
      const item = PROFILE_ITEMS[mode.index];
      const count = Math.min(MAX_BULK, Math.max(1, Number(mode.count || '1')));
      return item
        ? { state: normal, action: { type: 'add-devices', profile: item.value, count } }
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
  const normal = { ...state, mode: NORMAL };
  if (key.escape) return { state: normal };
  if (key.return) {
    const text = mode.text.trim();
    if (mode.prompt === 'filter') return { state: { ...normal, filter: text, logOffset: 0 } };
    if (mode.prompt === 'search') return searchJump({ ...normal, logSearch: text }, context, 1, true);
    const id = context.visibleIds[selectedPosition(state, context.visibleIds)];
    if (!id || text === '') return { state: normal, action: { type: 'notice', text: 'no command sent' } };
    const commandHistory = [...state.commandHistory.filter((c) => c !== text), text].slice(-20);
    return { state: { ...normal, commandHistory }, action: { type: 'command', id, command: text } };
  }
  if (mode.prompt === 'command' && (key.upArrow || key.downArrow || key.tab)) {
    return { state: { ...state, mode: recall(state, mode, key) } };
  }
  const line = editLine(mode, input, key);
  return line ? { state: { ...state, mode: { ...mode, ...line } } } : { state };
}

/** ↑/↓ walk the history (newest first) then the example commands; Tab completes a command name. */
function recall(state: UiState, mode: Extract<Mode, { kind: 'prompt' }>, key: Key): Mode {
  const choices = [
    ...[...state.commandHistory].reverse(),
    ...COMMAND_EXAMPLES.filter((c) => !state.commandHistory.includes(c)),
  ];
  if (key.tab) {
    const match = choices.find((choice) => choice.startsWith(mode.text) && choice !== mode.text);
    return match ? { ...mode, text: match, cursor: match.length } : mode;
  }
  const history = clamp(mode.history + (key.upArrow ? 1 : -1), 0, choices.length);
  const text = history === 0 ? '' : (choices[history - 1] ?? '');
  return { ...mode, history, text, cursor: text.length };
}

function detailKey(
  state: UiState,
  mode: Extract<Mode, { kind: 'detail' }>,
  input: string,
  key: Key,
  context: KeyContext,
): KeyResult {
  if (key.escape || key.return || input === 'h' || key.leftArrow)
    return { state: { ...state, mode: NORMAL } };
  const height = context.detailHeight ?? 10;
  const delta = movement(input, key, height);
  if (delta !== undefined) {
    const max = Math.max(0, (context.detailLines ?? 0) - height);
    return { state: { ...state, mode: { ...mode, scroll: clamp(mode.scroll + delta, 0, max) } } };
  }
  // Device keys act on the device shown; the rest are ignored here.
  if ('xpdcy'.includes(input) && input !== '') return normalKey(state, input, key, context);
  if (input === 'q' || input === '?') return normalKey(state, input, key, context);
  return { state };
}

function normalKey(state: UiState, input: string, key: Key, context: KeyContext): KeyResult {
  const position = selectedPosition(state, context.visibleIds);
  const selected = position >= 0 ? context.visibleIds[position] : undefined;
  const needsDevice = (make: (id: string) => KeyResult): KeyResult =>
    selected ? make(selected) : { state, action: { type: 'notice', text: 'no device selected' } };
  const prompt = (kind: PromptKind, text = ''): KeyResult => ({
    state: { ...state, mode: { kind: 'prompt', prompt: kind, text, cursor: text.length, history: 0 } },
  });
  switch (input) {
    case 'q':
      return { state, action: { type: 'quit' } };
    case '?':
      return { state: { ...state, mode: { kind: 'help' } } };
    case 'a':
      return { state: { ...state, mode: { kind: 'menu', menu: 'add', index: 0, count: '' } } };
    case 'r':
      return { state: { ...state, mode: { kind: 'menu', menu: 'rogue', index: 0, count: '' } } };
    case '/':
      return state.focus === 'events' ? prompt('search', state.logSearch) : prompt('filter', state.filter);
    case 's':
      return { state: { ...state, sort: nextSort(state.sort) } };
    case 'n':
    case 'N':
      if (state.focus === 'events') return searchJump(state, context, input === 'n' ? 1 : -1, false);
      return nextRejected(state, context, position);
    case 'c':
      return needsDevice(() => prompt('command'));
    case 'y':
      return needsDevice((id) => ({ state: { ...state, mode: { kind: 'connect', id } } }));
    case 'x':
      return needsDevice((id) => ({
        state: {
          ...state,
          mode: {
            kind: 'confirm',
            question: `Revoke ${id}'s certificate? The broker will refuse it from now on.`,
            action: { type: 'revoke', id },
          },
        },
      }));
    case 'd':
      return needsDevice((id) => ({
        state: {
          ...state,
          mode: { kind: 'confirm', question: `Remove ${id} from the fleet?`, action: { type: 'remove', id } },
        },
      }));
    case 'p':
      return needsDevice((id) => ({ state, action: { type: 'toggle-pause', id } }));
  }
  if (key.return && selected && state.mode.kind === 'normal')
    return { state: { ...state, mode: { kind: 'detail', scroll: 0 } } };
  if (key.escape && state.mode.kind === 'detail') return { state: { ...state, mode: NORMAL } };
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
  return select(state, context, index);
}

function select(state: UiState, context: KeyContext, index: number): KeyResult {
  return { state: { ...state, selectedIndex: index, selectedId: context.visibleIds[index] } };
}

/** The next rejected device after the selection, wrapping around; says so if there is none. */
function nextRejected(state: UiState, context: KeyContext, position: number): KeyResult {
  const ids = context.visibleIds;
  for (let step = 1; step <= ids.length; step++) {
    const index = (Math.max(position, 0) + step) % ids.length;
    const id = ids[index];
    if (id !== undefined && context.isRejected?.(id)) return select(state, context, index);
  }
  return { state, action: { type: 'notice', text: 'no rejected device in the list' } };
}

/** Scrolls the log to the next older (1) or newer (-1) line matching the search; `fromTail` starts at the newest. */
function searchJump(state: UiState, context: KeyContext, direction: 1 | -1, fromTail: boolean): KeyResult {
  if (state.logSearch === '') return { state: { ...state, logOffset: 0 } };
  const hits = context.searchHits ?? [];
  const current = fromTail ? -1 : state.logOffset;
  const hit =
    direction === 1
      ? hits.find((offset) => offset > current)
      : [...hits].reverse().find((offset) => offset < current);
  if (hit === undefined) {
    const text =
      hits.length === 0
        ? `no event matches "${state.logSearch}"`
        : `no ${direction === 1 ? 'older' : 'newer'} match for "${state.logSearch}"`;
    return { state, action: { type: 'notice', text } };
  }
  return { state: { ...state, focus: 'events', logOffset: hit } };
}

/** Rows to move for a navigation key (Home/End as ±infinity, clamped by the caller); undefined if not one. */
function movement(input: string, key: Key, page: number): number | undefined {
  if (key.upArrow || input === 'k') return -1;
  if (key.downArrow || input === 'j') return 1;
  if (key.pageUp) return -Math.max(1, page - 1);
  if (key.pageDown || input === ' ') return Math.max(1, page - 1);
  if (key.home || input === 'g') return -Number.MAX_SAFE_INTEGER;
  if (key.end || input === 'G') return Number.MAX_SAFE_INTEGER;
  return undefined;
}
