/**
 * The one place that asks about and ends processes by pid: the orphaned SSH
 * master of a SIGKILLed rdhpf, our own ssh children, another instance's
 * daemon. Platform differences live in process_table_<platform>.ts.
 *
 * A zombie (exited, not yet reaped by its parent) still answers
 * `kill(pid, 0)`, but it holds no sockets and will never run again: here it
 * counts as gone. An orphan's parent is init, which may reap late; waiting
 * for the pid to vanish made ending an orphaned master take its full grace
 * period.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { sleep } from "../sleep.ts";
import * as darwin from "./process_table_darwin.ts";
import * as linux from "./process_table_linux.ts";

const table = process.platform === "linux" ? linux : darwin;

/** The command line of a process (arguments joined by spaces), or null when it is gone. */
export const commandLine: (pid: number) => string | null = table.commandLine;

/** True when a process with this pid exists (possibly another user's) and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // 0 and negatives address process groups
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return table.processState(pid) !== "Z";
}

/** Sends a signal by pid; a process that is already gone is not an error. */
export function signalPid(pid: number | null | undefined, signal: NodeJS.Signals): void {
  if (pid === null || pid === undefined || !Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}


/** Polls every 20 ms until the process is gone (or a zombie), up to timeoutMs; true when it is gone. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone, or 1 s after the SIGKILL. */
export async function terminate(pid: number, graceMs = 1000): Promise<void> {
  if (!isAlive(pid)) return;
  signalPid(pid, "SIGTERM");
  if (await waitForExit(pid, graceMs)) return;
  signalPid(pid, "SIGKILL");
  await waitForExit(pid, 1000);
}

/** True while a child we spawned has not exited (Node has not seen its exit yet). */
export function isRunning(child: ChildProcess | null): child is ChildProcess {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

/**
 * Ends a child we spawned: SIGTERM, then SIGKILL after graceMs; resolves once
 * Node has seen it exit (or `killWaitMs` after the SIGKILL). Signals go by
 * pid and only while the child is running, so a reused pid is never hit.
 */
export async function terminateChild(child: ChildProcess, graceMs: number, killWaitMs = 2000): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return; // no pid: it never started
  const exited = new Promise<true>((resolve) => {
    child.once("exit", () => resolve(true));
    child.once("error", () => resolve(true));
  });
  const within = (ms: number) => {
    // A cleared timer: a finished child must not keep the event loop busy for the grace period.
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([exited, new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]).finally(() => clearTimeout(timer));
  };
  signalPid(child.pid, "SIGTERM");
  if (await within(graceMs)) return;
  if (isRunning(child)) signalPid(child.pid, "SIGKILL");
  await within(killWaitMs);
}
