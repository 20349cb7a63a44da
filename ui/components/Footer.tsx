import { Text } from 'ink';
import type { Mode, Pane } from '../keys.ts';
import type { Feedback } from '../store/types.ts';

export interface FooterProps {
  readonly mode: Mode;
  readonly focus: Pane;
  readonly hasSelection: boolean;
  readonly filter: string;
  readonly feedback?: Feedback;
  readonly now: number;
  /** Terminal columns: the hints that fit, most important first; `? help  q quit` always. */
  readonly width?: number;
  /** The detail is a separate screen (narrow layouts): Enter opens it. */
  readonly detailOnEnter?: boolean;
}

const ALWAYS = '? help  q quit';

/** The key hints for this mode, most important first. */
export function footerHints({
  mode,
  focus,
  hasSelection,
  filter,
  detailOnEnter,
}: Omit<FooterProps, 'feedback' | 'now' | 'width'>): string[] {
  switch (mode.kind) {
    case 'help':
      return ['any key: close help'];
    case 'connect':
      return ['any key: close'];
    case 'confirm':
      return ['y or Enter: yes', 'any other key: no'];
    case 'menu':
      return mode.menu === 'add'
        ? ['↑↓ choose', 'digits: how many', 'Enter add', 'Esc cancel']
        : ['↑↓ choose', 'Enter add', 'Esc cancel'];
    case 'prompt':
      if (mode.prompt === 'command')
        return ['Enter send', '↑↓ history/examples', 'Tab complete', 'Esc cancel'];
      return [mode.prompt === 'filter' ? 'Enter filter' : 'Enter search', 'Ctrl-U clear', 'Esc cancel'];
    case 'detail':
      return ['Esc back', '↑↓ PgUp PgDn scroll', 'x revoke', 'c command', 'p pause', 'y connect', 'd remove'];
    case 'normal': {
      const hints: string[] = [];
      if (focus === 'events') hints.push('/ search', 'n/N next match', '↑↓ scroll log');
      if (hasSelection && detailOnEnter) hints.push('Enter details');
      hints.push('a add', 'r rogue');
      if (hasSelection) hints.push('x revoke', 'c command', 'p pause', 'y connect', 'd remove');
      if (focus === 'devices') hints.push('/ filter');
      if (filter) hints.push('Esc clear filter');
      hints.push('n next rejected', 's sort', 'Tab pane');
      return hints;
    }
  }
}

/** The hints that fit in `width` columns after `reserved` ones, then `? help  q quit` (never cut). */
export function fitHints(hints: readonly string[], width: number, reserved = 0): string {
  let line = '';
  const room = width - reserved - ALWAYS.length - 2;
  for (const hint of hints) {
    const next = line ? `${line}  ${hint}` : hint;
    if (next.length > room) break;
    line = next;
  }
  return line ? `${line}  ${ALWAYS}` : ALWAYS;
}

export function Footer(props: FooterProps) {
  const { feedback, now, width = 200 } = props;
  const hints = footerHints(props);
  if (props.mode.kind === 'prompt') {
    const { prompt, text, cursor } = props.mode;
    const label = `${prompt}> `;
    const keys = fitHints(hints, Math.max(0, width - label.length - text.length - 4));
    return (
      <Text wrap="truncate">
        <Text bold color="cyan">
          {label}
        </Text>
        {text.slice(0, cursor)}
        <Text inverse>{text[cursor] ?? ' '}</Text>
        {text.slice(cursor + 1)}
        <Text color="gray">{`   ${keys}`}</Text>
      </Text>
    );
  }
  if (props.mode.kind === 'confirm') {
    return (
      <Text wrap="truncate">
        <Text bold color="yellow">{`${props.mode.question} `}</Text>
        <Text color="gray">{fitHints(hints, width - props.mode.question.length - 1)}</Text>
      </Text>
    );
  }
  // Feedback shares the line: it gets at most half of it, the keys the rest.
  const shown = feedback && feedback.until > now ? feedback : undefined;
  const message = shown ? shown.text.slice(0, Math.max(20, Math.floor(width / 2))) : '';
  return (
    <Text wrap="truncate">
      {shown ? (
        <Text
          color={shown.level === 'info' ? 'green' : shown.level === 'warn' ? 'yellow' : 'red'}
        >{`${message}  `}</Text>
      ) : null}
      <Text color="gray">{fitHints(hints, width, shown ? message.length + 2 : 0)}</Text>
    </Text>
  );
}
