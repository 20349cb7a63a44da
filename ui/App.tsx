/**
 * The dashboard: header, device list + detail pane, event log, footer; help, menus and prompts take the body's place.
 * It reads the store (repainting at most once per frame) and turns keys into actions on FleetControls.
 */
import { Box, Text, useInput, useStdin } from 'ink';
import { type ReactNode, useCallback, useRef, useState } from 'react';
import { PROFILE_ITEMS, ROGUE_ITEMS } from './catalogue.ts';
import { DetailPane } from './components/DetailPane.tsx';
import { DeviceList, deviceListRows } from './components/DeviceList.tsx';
import { EventLog, eventLogLines, logWindow } from './components/EventLog.tsx';
import { Footer } from './components/Footer.tsx';
import { Header } from './components/Header.tsx';
import { HelpOverlay } from './components/HelpOverlay.tsx';
import { Menu } from './components/Menu.tsx';
import type { CertificateSummary, FleetControls } from './controls.ts';
import {
  type Action,
  handleKey,
  initialUiState,
  selectedPosition,
  splitKeystrokes,
  type UiState,
} from './keys.ts';
import { layoutFor } from './layout.ts';
import type { FleetStore } from './store/fleet-store.ts';
import type { DeviceView } from './store/types.ts';
import { scrollTop } from './store/window.ts';
import { useTerminalSize } from './use-terminal-size.ts';
import { useCertificate, useStoreVersion } from './use-store.ts';
import { runAction } from './run-action.ts';

export interface AppProps {
  readonly store: FleetStore;
  readonly controls: FleetControls;
  /** Tests start in a given state (e.g. with help open). */
  readonly initialState?: UiState;
}

function matches(device: DeviceView, needle: string): boolean {
  return (
    device.id.toLowerCase().includes(needle) ||
    device.kind.toLowerCase().includes(needle) ||
    device.state.includes(needle) ||
    (device.reason?.toLowerCase().includes(needle) ?? false) ||
    (needle === 'rogue' && device.rogue)
  );
}

export function App({ store, controls, initialState }: AppProps) {
  useStoreVersion(store);
  const { rows, columns } = useTerminalSize();
  const layout = layoutFor(rows, columns);
  const [ui, setUi] = useState<UiState>(initialState ?? initialUiState);
  const listTop = useRef(0);
  const now = Date.now();

  const needle = ui.filter.toLowerCase();
  const visibleIds = needle
    ? store.order.filter((id) => {
        const device = store.devices.get(id);
        return device !== undefined && matches(device, needle);
      })
    : store.order;
  const listRows = deviceListRows(layout.bodyHeight);
  const position = selectedPosition(ui, visibleIds);
  listTop.current = scrollTop(listTop.current, Math.max(position, 0), listRows, visibleIds.length);
  const windowIds = visibleIds.slice(listTop.current, listTop.current + listRows);
  const selectedId = position >= 0 ? visibleIds[position] : undefined;
  const selected = selectedId === undefined ? undefined : store.devices.get(selectedId);
  const certificate = useCertificate(controls, selected);
  const logLines = eventLogLines(layout.logHeight);
  const log = logWindow(store.log, ui.filter, logLines, ui.logOffset);

  const context = { visibleIds, listHeight: listRows, logLength: log.total, logHeight: logLines };
  const contextRef = useRef(context);
  contextRef.current = context;
  const onAction = useCallback((action: Action) => runAction(action, store, controls), [store, controls]);

  // Keys can arrive faster than React re-renders: the ref always holds the state the next key applies to.
  const uiRef = useRef(ui);
  uiRef.current = ui;
  const { isRawModeSupported } = useStdin();
  useInput(
    (input, key) => {
      for (const [one, oneKey] of splitKeystrokes(input, key)) {
        const result = handleKey(uiRef.current, one, oneKey, contextRef.current);
        uiRef.current = result.state;
        if (result.action) onAction(result.action);
      }
      setUi(uiRef.current);
      store.repainted();
    },
    // Without a raw-mode TTY (piped stdin, CI) useInput would throw: the dashboard then only displays.
    { isActive: isRawModeSupported === true },
  );

  if (layout.tooSmall) {
    return (
      <Text color="yellow">{`The terminal is ${columns}×${rows}; certfleet needs at least 70×18. Enlarge it, or press q.`}</Text>
    );
  }

  let body: ReactNode;
  // The help takes the log's rows too: it is the one screen that must show everything at once.
  const help = ui.mode.kind === 'help';
  if (help) body = <HelpOverlay height={layout.bodyHeight + layout.logHeight} />;
  else if (ui.mode.kind === 'menu') {
    const rogue = ui.mode.menu === 'rogue';
    body = (
      <Menu
        title={
          rogue
            ? 'Add a rogue device — which way should it break the rules?'
            : 'Add a device — which sensor profile?'
        }
        items={rogue ? ROGUE_ITEMS : PROFILE_ITEMS}
        index={ui.mode.index}
        height={layout.bodyHeight}
      />
    );
  } else {
    body = (
      <Box height={layout.bodyHeight}>
        <DeviceList
          rows={windowIds.map((id) => store.devices.get(id) as DeviceView)}
          selected={position - listTop.current}
          first={listTop.current}
          total={visibleIds.length}
          height={layout.bodyHeight}
          width={layout.listWidth}
          focused={ui.focus === 'devices'}
          filter={ui.filter}
        />
        <DetailPane
          device={selected}
          certificate={certificate}
          width={layout.detailWidth}
          height={layout.bodyHeight}
        />
      </Box>
    );
  }

  return (
    <Box flexDirection="column" width={layout.width}>
      <Header
        broker={store.broker}
        counts={store.counts}
        messagesPerSecond={store.messagesPerSecond()}
        now={now}
      />
      {body}
      {help ? null : (
        <EventLog
          entries={log.entries}
          total={log.total}
          offset={ui.logOffset}
          height={layout.logHeight}
          focused={ui.focus === 'events'}
          filter={ui.filter}
        />
      )}
      <Footer
        mode={ui.mode}
        focus={ui.focus}
        hasSelection={selected !== undefined}
        filter={ui.filter}
        feedback={store.feedback}
        now={now}
      />
    </Box>
  );
}

export type { CertificateSummary };
