/**
 * Splits the terminal into regions. The frame is always at least one line shorter than the terminal: a frame as
 * tall as the terminal makes Ink clear and redraw the whole screen on every frame (flicker).
 */
export interface Layout {
  tooSmall: boolean;
  width: number;
  bodyHeight: number;
  listWidth: number;
  detailWidth: number;
  logHeight: number;
}

export const MIN_ROWS = 18;
export const MIN_COLUMNS = 70;

export function layoutFor(rows: number, columns: number): Layout {
  const usable = rows - 1;
  const header = 2;
  const footer = 1;
  const logHeight = Math.max(5, Math.min(12, Math.floor(rows * 0.25)));
  const bodyHeight = usable - header - footer - logHeight;
  const width = columns;
  const listWidth = Math.min(100, Math.max(40, Math.floor(columns * 0.55)));
  return {
    tooSmall: rows < MIN_ROWS || columns < MIN_COLUMNS,
    width,
    bodyHeight,
    listWidth,
    detailWidth: width - listWidth,
    logHeight,
  };
}
