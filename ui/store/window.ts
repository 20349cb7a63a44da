/** Windowing for long lists: which slice of rows to render so the selection stays visible. Pure. */

/** The first row to show: moves the window as little as possible to keep `selected` inside it. */
export function scrollTop(previousTop: number, selected: number, height: number, total: number): number {
  if (height <= 0 || total <= height) return 0;
  let top = Math.min(Math.max(previousTop, 0), total - height);
  if (selected < top) top = selected;
  if (selected >= top + height) top = selected - height + 1;
  return Math.max(0, Math.min(top, total - height));
}

export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
