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
}

/** The keys that apply in this mode (and, in the list, to a selected device). */
export function footerKeys({
  mode,
  focus,
  hasSelection,
  filter,
}: Omit<FooterProps, 'feedback' | 'now'>): string {
  switch (mode.kind) {
    case 'help':
      return 'any key: close help';
    case 'menu':
      return '↑↓ choose  Enter add  Esc cancel';
    case 'prompt':
      return mode.prompt === 'filter'
        ? 'type to filter  Enter apply  Esc cancel'
        : 'type a command  Enter send  Esc cancel';
    case 'normal': {
      const device = hasSelection ? '  x revoke  c command  p pause/resume  d remove' : '';
      const clear = filter ? '  Esc clear filter' : '';
      const move = focus === 'devices' ? '↑↓ jk PgUp PgDn Home End move' : '↑↓ PgUp PgDn scroll log';
      return `a add  r rogue${device}  / filter${clear}  ${move}  Tab pane  ? help  q quit`;
    }
  }
}

export function Footer(props: FooterProps) {
  const { feedback, now } = props;
  const showFeedback = feedback && feedback.until > now;
  if (props.mode.kind === 'prompt') {
    const label = props.mode.prompt === 'filter' ? 'filter' : 'command';
    return (
      <Text wrap="truncate">
        <Text bold color="cyan">{`${label}> `}</Text>
        {props.mode.text}
        <Text inverse> </Text>
        <Text color="gray">{`   ${footerKeys(props)}`}</Text>
      </Text>
    );
  }
  return (
    <Text wrap="truncate">
      {showFeedback ? (
        <Text color={feedback.level === 'info' ? 'green' : feedback.level === 'warn' ? 'yellow' : 'red'}>
          {`${feedback.text}  `}
        </Text>
      ) : null}
      <Text color="gray">{footerKeys(props)}</Text>
    </Text>
  );
}
