/** Things to stop on the way out, stopped in reverse order of starting; each gets a deadline so quitting never hangs. */
export class CleanupStack {
  private readonly steps: { name: string; run: () => unknown }[] = [];
  private running: Promise<void> | undefined;

  /** After run() started, whatever is added is stopped at once (a quit can arrive in the middle of start-up). */
  add(name: string, run: () => unknown): void {
    if (this.running) {
      void Promise.resolve()
        .then(run)
        .catch(() => undefined);
      return;
    }
    this.steps.push({ name, run });
  }

  /** Idempotent: a second call (q, then SIGTERM) waits for the first. */
  run(timeoutMs = 5000): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        });
        await Promise.race([
          Promise.resolve()
            .then(step.run)
            .catch(() => undefined),
          deadline,
        ]);
        clearTimeout(timer);
      }
    })();
    return this.running;
  }
}
