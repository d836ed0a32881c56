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

/**
 * A lost session is replaced at once only when it had lived this long: a
 * master that dies right after each connect then costs at most one new
 * connection per 5 s (the plain backoff, reset once a session is healthy,
 * would allow one per ~1.5 s).
 */
export const REPLACE_AT_ONCE_AFTER_MS = 5_000;

/** Why the last connection attempt or session ended. */
export type ReconnectCause =
  /** An attempt to connect failed; kind is the SSH failure kind, null when not an SSH failure. */
  | { why: "attempt-failed"; kind: SshErrorKind | null }
  /**
   * An established session ended; kind is the master's failure kind, null
   * when something else ended it (e.g. its health check). `livedMs`: how
   * long it had been connected. `pathAnswers`: whether the host's SSH port
   * accepted a TCP connection just now; null when not probed (ProxyJump,
   * ProxyCommand: that TCP path is not the one ssh takes).
   */
  | { why: "session-lost"; kind: SshErrorKind | null; livedMs: number; pathAnswers: boolean | null }
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
  // A master that died (killed, crashed, hung and ended by its health check)
  // while the network path answers is replaced at once: the wait would only
  // prolong the outage. If the replacement fails, the backoff takes over.
  if (cause.why === "session-lost" && attempt === 0 && cause.pathAnswers !== false && cause.livedMs >= REPLACE_AT_ONCE_AFTER_MS) return { delayMs: 0, watchPath };
  return { delayMs: backoffDelayMs(attempt), watchPath };
}
