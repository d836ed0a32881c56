/**
 * Bun's own garbage-collection timer, turned off for the daemon, which is
 * idle most of the time. The runtime ticks it every second and slows it to
 * every 30 s only after 30 ticks in which the JS heap did not change. rdhpf's
 * resync and health check run every 30 s, so the heap changes at least once
 * every 30 ticks and the timer never slows down: measured on the test bed it
 * was about a third of rdhpf's idle CPU, and a 30 s pace
 * (BUN_GC_TIMER_INTERVAL) saved little of it (docs/performance.md, idle
 * CPU). The runtime reads BUN_GC_TIMER_DISABLE once, at start, so the daemon
 * sets it by replacing its own process image with itself (execve: same pid,
 * same open files, same arguments) before doing anything else.
 * JavaScriptCore's own collector is untouched: it still runs as allocation
 * requires.
 *
 * Only the compiled binary does this (`bun src/main.ts` and Deno keep their
 * runtime's default), and only once: the variable, set by us or by the
 * user, ends it.
 *
 * @module
 */

/** The runtime's variable that turns its GC timer off. */
export const GC_TIMER_VARIABLE = "BUN_GC_TIMER_DISABLE";

/** The execve to make, or null when none is needed (pure: see gc_pacing_test.ts). */
export function gcPacingExec(
  argv: readonly string[],
  proc: { env: Record<string, string | undefined>; execPath: string; entry: string | undefined; canExec: boolean },
): { path: string; args: string[]; env: Record<string, string> } | null {
  if (argv[0] !== "run" || !proc.canExec || proc.env[GC_TIMER_VARIABLE] !== undefined) return null;
  // A compiled Bun binary runs its entry from the embedded file system.
  if (!proc.entry?.startsWith("/$bunfs/")) return null;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(proc.env)) if (v !== undefined) env[k] = v;
  env[GC_TIMER_VARIABLE] = "1";
  return { path: proc.execPath, args: [proc.execPath, ...argv], env };
}

/** Replaces the process with itself without Bun's GC timer when `gcPacingExec` says so; returns when it does not (or cannot). */
export function paceGcForDaemon(argv: readonly string[]): void {
  const execve = (process as { execve?: (path: string, args: string[], env: Record<string, string>) => never }).execve;
  const plan = gcPacingExec(argv, { env: process.env, execPath: process.execPath, entry: process.argv[1], canExec: typeof execve === "function" });
  if (!plan || !execve) return;
  try {
    execve.call(process, plan.path, plan.args, plan.env);
  } catch {
    // Not replaced: run on with the runtime's GC timer, which only costs idle CPU.
  }
}
