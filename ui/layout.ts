/**
 * Splits the terminal into regions. The frame is always at least one line shorter than the terminal: a frame as
 * tall as the terminal makes Ink clear and redraw the whole screen on every frame (flicker).
 *
 * Wide terminals (≥ 120×30) show the device list and the selected device's detail side by side. Smaller ones give
 * the list the whole width with a two-line summary of the selection under it (its state and, for a rejected
 * device, the reason); Enter then shows the device on the whole screen (scrollable), Esc comes back.
 */
export interface Layout {
  tooSmall: boolean;
  width: number;
  /** Rows between the header and the event log. */
  bodyHeight: number;
  /** True: list and detail side by side. False: list only, detail on Enter. */
  split: boolean;
  listWidth: number;
  /** 0 when not split. */
  detailWidth: number;
  /** Height of the device list box (the body minus the selection summary when not split). */
  listHeight: number;
  /** Lines of the selection summary under the list (narrow layouts). */
  summaryHeight: number;
  logHeight: number;
  /** Rows a full-screen view (help, detail, menus) may use: the body and the log together. */
  fullHeight: number;
}

export const MIN_ROWS = 18;
export const MIN_COLUMNS = 70;
export const SPLIT_MIN_COLUMNS = 120;
export const SPLIT_MIN_ROWS = 30;

export function layoutFor(rows: number, columns: number): Layout {
  const usable = rows - 1;
  const header = 2;
  const footer = 1;
  const logHeight = Math.max(5, Math.min(12, Math.floor(rows * 0.25)));
  const bodyHeight = usable - header - footer - logHeight;
  const width = columns;
  const split = columns >= SPLIT_MIN_COLUMNS && rows >= SPLIT_MIN_ROWS;
  const listWidth = split ? Math.min(100, Math.max(60, Math.floor(columns * 0.55))) : width;
  const summaryHeight = split ? 0 : 2;
  return {
    tooSmall: rows < MIN_ROWS || columns < MIN_COLUMNS,
    width,
    bodyHeight,
    split,
    listWidth,
    detailWidth: split ? width - listWidth : 0,
    listHeight: bodyHeight - summaryHeight,
    summaryHeight,
    logHeight,
    fullHeight: bodyHeight + logHeight,
  };
}
