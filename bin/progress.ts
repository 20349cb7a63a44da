/** A one-line progress bar on a TTY (stderr), silent elsewhere so pipes and logs stay clean. */
export function progressBar(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): { update(done: number, total: number): void; finish(): void } {
  if (!stream.isTTY) return { update() {}, finish() {} };
  let lastDraw = 0;
  const draw = (done: number, total: number) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (done === total || now - lastDraw > 50) {
        lastDraw = now;
        draw(done, total);
      }
    },
    finish() {
      stream.write('\n');
    },
  };
}
