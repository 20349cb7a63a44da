/**
 * The steps of an issuance, timed when a caller asks (the benchmark, bench/pki-issuance.ts): where a batch's wall
 * time and CPU go — making leaves, waiting for the lock, writing files, the durability passes, the index.
 */
export type IssuePhase =
  | 'open'
  | 'make'
  | 'lock'
  | 'reconcile'
  | 'journal'
  | 'crl'
  | 'stage'
  | 'sync-files'
  | 'index'
  | 'rename'
  | 'sync-renames'
  | 'journal-clear'
  | 'answer';

/** Wall ms of the phase, and CPU ms of the whole process (every thread) during it. */
export type OnIssuePhase = (phase: IssuePhase, wallMs: number, cpuMs: number) => void;

export async function timePhase<T>(
  onPhase: OnIssuePhase | undefined,
  phase: IssuePhase,
  work: () => Promise<T>,
): Promise<T> {
  if (!onPhase) return work();
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    return await work();
  } finally {
    const used = process.cpuUsage(cpu);
    onPhase(phase, performance.now() - started, (used.user + used.system) / 1000);
  }
}
