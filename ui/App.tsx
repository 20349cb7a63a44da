/**
 * The dashboard: header, device list (+ detail pane on wide terminals), event log, footer; help, menus, the
 * full-screen device view and the connect view take the body's place. It reads the store (repainting at most once
 * per frame) and turns keys into actions on FleetControls.
 */
import { Box, Text, useInput, useStdin } from 'ink';
import { type ReactNode, useCallback, useMemo, useRef, useState } from 'react';
import { PROFILE_ITEMS, ROGUE_ITEMS } from './catalogue.ts';
import { ConnectView } from './components/ConnectView.tsx';
import { DetailPane } from './components/DetailPane.tsx';
import { DeviceList, deviceListRows } from './components/DeviceList.tsx';
import { EventLog, eventLogLines, logWindow, searchOffsets } from './components/EventLog.tsx';
import { Footer } from './components/Footer.tsx';
import { Header } from './components/Header.tsx';
import { HelpOverlay } from './components/HelpOverlay.tsx';
import { Menu } from './components/Menu.tsx';
import { SelectionSummary } from './components/SelectionSummary.tsx';
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
import { runAction } from './run-action.ts';
import type { FleetStore } from './store/fleet-store.ts';
import { sortIds } from './store/sort.ts';
import type { DeviceView } from './store/types.ts';
import { scrollTop } from './store/window.ts';
import { useTerminalSize } from './use-terminal-size.ts';
import { useCertificate, useConnection, useStoreVersion } from './use-store.ts';

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
    (needle === 'rogue' && device.rogue) ||
    (needle === 'external' && device.external === true)
  );
}

export function App({ store, controls, initialState }: AppProps) {
  const version = useStoreVersion(store);
  const { rows, columns } = useTerminalSize();
  const layout = layoutFor(rows, columns);
  const [ui, setUi] = useState<UiState>(initialState ?? initialUiState);
  const listTop = useRef(0);
  const detailLines = useRef(0);
  const now = Date.now();

  const needle = ui.filter.toLowerCase();
  // The visible order changes only with the data, the filter or the sort: not on every key.
  // biome-ignore lint/correctness/useExhaustiveDependencies: version stands for the store's contents
  const visibleIds = useMemo(() => {
    const filtered = needle
      ? store.order.filter((id) => {
          const device = store.devices.get(id);
          return device !== undefined && matches(device, needle);
        })
      : store.order;
    return sortIds(filtered, store.devices, ui.sort);
  }, [store, version, needle, ui.sort]);
  const listRows = deviceListRows(layout.listHeight);
  const position = selectedPosition(ui, visibleIds);
  listTop.current = scrollTop(listTop.current, Math.max(position, 0), listRows, visibleIds.length);
  const windowIds = visibleIds.slice(listTop.current, listTop.current + listRows);
  const selectedId = position >= 0 ? visibleIds[position] : undefined;
  const selected = selectedId === undefined ? undefined : store.devices.get(selectedId);
  const certificate = useCertificate(controls, selected);
  const connection = useConnection(controls, ui.mode.kind === 'connect' ? ui.mode.id : undefined);
  const logLines = eventLogLines(layout.logHeight);
  const log = logWindow(store.log, ui.filter, logLines, ui.logOffset);

  const context = {
    visibleIds,
    listHeight: listRows,
    logLength: log.total,
    logHeight: logLines,
    isRejected: (id: string) => store.devices.get(id)?.state === 'rejected',
    searchHits: ui.logSearch ? searchOffsets(log.matching, ui.logSearch) : [],
    // Read when a key arrives: the view measures itself after it is drawn.
    get detailLines() {
      return detailLines.current;
    },
    detailHeight: layout.fullHeight - 2,
  };
  const contextRef = useRef(context);
  contextRef.current = context;

  // Keys can arrive faster than React re-renders: the ref always holds the state the next key applies to.
  const uiRef = useRef(ui);
  uiRef.current = ui;
  const select = useCallback((id: string) => {
    // A newly added device may be hidden by the filter: clear it so the selection is on screen.
    uiRef.current = { ...uiRef.current, selectedId: id, filter: '', mode: uiRef.current.mode };
    setUi(uiRef.current);
  }, []);
  const onAction = useCallback(
    (action: Action) => runAction(action, store, controls, { select }),
    [store, controls, select],
  );
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
  const onMeasure = useCallback((lines: number) => {
    detailLines.current = lines;
  }, []);

  if (layout.tooSmall) {
    return (
      <Text color="yellow">{`The terminal is ${columns}×${rows}; certfleet needs at least 70×18. Enlarge it, or press q.`}</Text>
    );
  }

  let body: ReactNode;
  // Full-screen views take the log's rows too.
  let fullScreen = true;
  const mode = ui.mode;
  if (mode.kind === 'help') body = <HelpOverlay height={layout.fullHeight} />;
  else if (mode.kind === 'connect')
    body = <ConnectView id={mode.id} info={connection} height={layout.fullHeight} />;
  else if (mode.kind === 'detail') {
    body = (
      <DetailPane
        device={selected}
        certificate={certificate}
        width={layout.width}
        height={layout.fullHeight}
        scroll={mode.scroll}
        onMeasure={onMeasure}
        hint="Esc back  ↑↓ PgUp PgDn scroll"
      />
    );
  } else if (mode.kind === 'menu') {
    fullScreen = false;
    const rogue = mode.menu === 'rogue';
    const count = Math.max(1, Number(mode.count || '1'));
    body = (
      <Menu
        title={
          rogue
            ? 'Add a rogue device — which way should it break the rules?'
            : `Add ${count === 1 ? 'a device' : `${count} devices`} — which sensor profile? (type digits for how many)`
        }
        items={rogue ? ROGUE_ITEMS : PROFILE_ITEMS}
        index={mode.index}
        height={layout.bodyHeight}
      />
    );
  } else {
    fullScreen = false;
    const list = (
      <DeviceList
        rows={windowIds.map((id) => store.devices.get(id) as DeviceView)}
        selected={position - listTop.current}
        first={listTop.current}
        total={visibleIds.length}
        height={layout.listHeight}
        width={layout.listWidth}
        focused={ui.focus === 'devices'}
        filter={ui.filter}
        sort={ui.sort}
        now={now}
      />
    );
    body = layout.split ? (
      <Box height={layout.bodyHeight}>
        {list}
        <DetailPane
          device={selected}
          certificate={certificate}
          width={layout.detailWidth}
          height={layout.bodyHeight}
        />
      </Box>
    ) : (
      <Box height={layout.bodyHeight} flexDirection="column">
        {list}
        <SelectionSummary device={selected} now={now} />
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
      {fullScreen ? null : (
        <EventLog
          entries={log.entries}
          total={log.total}
          offset={ui.logOffset}
          height={layout.logHeight}
          focused={ui.focus === 'events'}
          filter={ui.filter}
          search={ui.logSearch}
        />
      )}
      <Footer
        mode={ui.mode}
        focus={ui.focus}
        hasSelection={selected !== undefined}
        filter={ui.filter}
        feedback={store.feedback}
        now={now}
        width={layout.width}
        detailOnEnter={!layout.split}
      />
    </Box>
  );
}

export type { CertificateSummary };
