/**
 * What the daemon does between two SSH connection attempts: how long it
 * waits, and whether it watches the network path meanwhile (route_watch.ts).
 * Pure, so the whole table is pinned down in reconnect_plan_test.ts.
 *
 * @module
 */
import { retryWhileRunning, type SshErrorKind } from "../ssh/mod.ts";
import { backoffDelayMs } from "./backoff.ts";

/** Auth and host-key trouble does not fix itself in seconds: retry at the cap (see retryWhileRunning). */
const CONFIG_RETRY_MS = 30_000;

/** Why the last connection attempt or session ended. */
export type ReconnectCause =
  /** An attempt to connect failed; kind is the SSH failure kind, null when not an SSH failure. */
  | { why: "attempt-failed"; kind: SshErrorKind | null }
  /** An established session ended; kind is the master's failure kind, null when something else ended it. */
  | { why: "session-lost"; kind: SshErrorKind | null }
  /** The path came back while an attempt still hung on the dead one: it was abandoned. */
  | { why: "path-back" };

/** The wait before the next attempt. */
export interface ReconnectPlan {
  delayMs: number;
  /**
   * Probe the path during the wait AND during the next attempt: when it is
   * seen down, then up, the wait ends and a hanging attempt is abandoned.
   */
  watchPath: boolean;
}

/** The plan after `cause`, for retry number `attempt` (0-based) of the current streak. */
export function reconnectPlan(cause: ReconnectCause, attempt: number): ReconnectPlan {
  if (cause.why === "path-back") return { delayMs: 0, watchPath: true };
  const kind = cause.kind;
  const retry = kind === null ? "backoff" : retryWhileRunning(kind);
  if (retry === "slowly") return { delayMs: CONFIG_RETRY_MS, watchPath: false };
  const watchPath = retry === "watch-path";
  // A master ended by its keepalive has already waited out 6-9 s of silence
  // (see TUNABLE_MASTER_DEFAULTS in src/ssh/argv.ts), and the path may have
  // come back meanwhile: the first retry starts at once. Being that slow, it
  // cannot turn into a tight loop.
  if (cause.why === "session-lost" && kind === "timeout" && attempt === 0) return { delayMs: 0, watchPath };
  return { delayMs: backoffDelayMs(attempt), watchPath };
}
