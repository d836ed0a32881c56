/**
 * The timers of one SSH session: a health check of the master and a resync
 * (reconcile from the full list), both every 30 s, and wake detection.
 * None of them starts a process: the health check is the mux protocol's
 * alive check on the control socket (src/ssh/mux_probe.ts, deadline 5 s, so
 * a master that accepts but no longer answers ends the session within 35 s;
 * a master that exits is noticed at once, by its exit), the resync one
 * Engine API list.
 *
 * Both fire in the same tick: while idle, each burst of work keeps Bun's
 * garbage collector waking every second for ~20 s afterwards, so one burst
 * every 30 s costs about half of two (docs/performance.md, idle CPU).
 *
 * Wake detection rides on the health timer: a laptop that slept, or an
 * rdhpf that was stopped (SIGSTOP, a debugger), sees that timer fire late.
 * After such a gap the forwards may be stale and the TCP connection dead
 * without the master knowing yet, so the session checks at once instead of
 * waiting for the keepalive.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["rdhpf", "engine"]);

/** A timer that fires this much later than planned means the machine slept (or we were stopped). */
export const WAKE_SLACK_MS = 5_000;

/** How late a periodic timer fired, given its last tick; lateness within WAKE_SLACK_MS is scheduling noise. */
export function wokeAfterGap(nowMs: number, lastTickMs: number, intervalMs: number): { woke: boolean; lateMs: number } {
  const lateMs = nowMs - lastTickMs - intervalMs;
  return { woke: lateMs > WAKE_SLACK_MS, lateMs };
}

export interface SessionTimerOptions {
  healthIntervalMs: number;
  resyncIntervalMs: number;
  /** Whether the master still answers (its alive check on the control socket). */
  checkMaster: () => Promise<boolean>;
  requestReconcile: () => void;
  /** Asks the Docker engine for a sign of life; rejects when none comes. Absent while there is no link. */
  pingDocker: () => Promise<unknown> | undefined;
  /** Ends the session: it reconnects from the top. */
  endSession: (reason: string) => void;
  /** The session's signal: a check failing after it aborted ends nothing. */
  signal: AbortSignal;
}

/** Starts the timers; returns the function that stops them. */
export function startSessionTimers(o: SessionTimerOptions): () => void {
  let lastTickMs = Date.now();
  const health = setInterval(async () => {
    const now = Date.now();
    const { woke, lateMs } = wokeAfterGap(now, lastTickMs, o.healthIntervalMs);
    lastTickMs = now;
    if (woke) {
      log.info("Timer fired late: the machine slept or rdhpf was stopped; checking now", { late_ms: lateMs });
      o.requestReconcile();
      o.pingDocker()?.catch(() => o.endSession("no answer from Docker after wake"));
    }
    if (!(await o.checkMaster().catch(() => false)) && !o.signal.aborted) o.endSession("ControlMaster check failed");
  }, o.healthIntervalMs);
  // Set up right after the health timer: with equal intervals both fire in one pass of the event loop.
  const resync = setInterval(o.requestReconcile, o.resyncIntervalMs);
  return () => {
    clearInterval(health);
    clearInterval(resync);
  };
}
