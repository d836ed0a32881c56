/**
 * One error type for everything rdhpf reports to a user: what failed, with
 * which input, and what to do next. The CLI maps `exitCode` to the process
 * exit status (2 = usage or configuration, 1 = runtime failure).
 *
 * @module
 */

export class RdhpfError extends Error {
  override readonly name = "RdhpfError";
  constructor(
    message: string,
    /** What the user can do about it, or null when there is nothing to add. */
    readonly hint: string | null = null,
    readonly exitCode: 1 | 2 = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Bad command-line input or configuration: exit status 2. */
export function usageError(message: string, hint: string | null = null): RdhpfError {
  return new RdhpfError(message, hint, 2);
}

/** One-line rendering used by the CLI: "error: ... \nhint: ...". */
export function formatError(err: unknown): string {
  if (err instanceof RdhpfError) {
    return err.hint ? `rdhpf: ${err.message}\nhint: ${err.hint}` : `rdhpf: ${err.message}`;
  }
  return `rdhpf: ${err instanceof Error ? err.message : String(err)}`;
}
