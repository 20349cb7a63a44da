/**
 * An error the user can fix: printed as `ERROR: what failed: why` plus a hint, never with a stack.
 * Anything that is not a UserError is a bug and is printed with its stack.
 */
export class UserError extends Error {
  override readonly name: string = 'UserError';
  /** The process exit status when this ends a command: 1, or 2 for "the run itself could not happen". */
  readonly exitCode: number = 1;
  constructor(
    /** What failed, e.g. "cannot issue certificate". */
    readonly what: string,
    /** Why it failed, e.g. "id 'a b' contains a space". */
    readonly why: string,
    /** What to do next, e.g. "run `certfleet pki init`". */
    readonly hint?: string,
  ) {
    super(`${what}: ${why}`);
  }

  format(): string {
    return `ERROR: ${this.what}: ${this.why}${this.hint ? `\n${this.hint}` : ''}`;
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
