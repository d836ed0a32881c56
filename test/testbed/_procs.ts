/**
 * Process bookkeeping from /proc. The test bed only ever signals processes it
 * can prove are its own: a recorded pid whose command line still names the
 * test bed's directory, or a process living in the test bed's namespace.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { sleep, sleepSync } from "./_exec.ts";

interface ProcStat {
  state: string;
  ppid: number;
  startTime: string;
}

function procStat(pid: number): ProcStat | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    const rest = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", ppid: Number(rest[1]), startTime: rest[19] ?? "" };
  } catch {
    return null;
  }
}

/** Whether pid is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== "Z" && st.state !== "X";
}

/** Kernel start time of pid (clock ticks since boot), "" if gone; identifies a process across pid reuse. */
export function startTimeOf(pid: number): string {
  return procStat(pid)?.startTime ?? "";
}

/** The command line of pid joined by spaces, "" if gone. */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** Whether pid is alive and its command line contains marker (our test bed directory). */
export function isOurs(pid: number | undefined | null, marker: string): pid is number {
  return typeof pid === "number" && pid > 0 && isAlive(pid) && cmdlineOf(pid).includes(marker);
}

function allPids(): number[] {
  return readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
}

/** All live descendants of pid (children first level first). */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const st = procStat(p);
    if (!st || st.state === "Z") continue;
    const list = children.get(st.ppid) ?? [];
    list.push(p);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * Live processes that belong to a test bed: command line mentions `marker`
 * (its directory), or the process sits in the network namespace with inode
 * `netnsInode` (only pass an inode read from the still-existing netns file).
 */
export function processesOf(marker: string, netnsInode: number | null): number[] {
  const self = process.pid;
  return allPids().filter((p) => {
    if (p === self || !isAlive(p)) return false;
    if (cmdlineOf(p).includes(marker)) return true;
    if (netnsInode === null) return false;
    try {
      return readlinkSync(`/proc/${p}/ns/net`) === `net:[${netnsInode}]`;
    } catch {
      return false;
    }
  });
}

/** Live processes in the network namespace with that inode whose executable is exe. */
export function processesInNetnsRunning(netnsInode: number, exe: string): number[] {
  return allPids().filter((p) => {
    try {
      return isAlive(p) && readlinkSync(`/proc/${p}/ns/net`) === `net:[${netnsInode}]` && readlinkSync(`/proc/${p}/exe`) === exe;
    } catch {
      return false;
    }
  });
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL and wait; returns pids still alive (should be none). */
export function terminateSync(pids: readonly number[], graceMs: number): number[] {
  signal(pids, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) sleepSync(25);
  const stubborn = pids.filter(isAlive);
  signal(stubborn, "SIGKILL");
  const killDeadline = Date.now() + 3_000;
  while (stubborn.some(isAlive) && Date.now() < killDeadline) sleepSync(25);
  return stubborn.filter(isAlive);
}

/** Async twin of {@link terminateSync}. */
export async function terminate(pids: readonly number[], graceMs: number, sig: NodeJS.Signals = "SIGTERM"): Promise<number[]> {
  signal(pids, sig);
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(25);
  const stubborn = pids.filter(isAlive);
  signal(stubborn, "SIGKILL");
  const killDeadline = Date.now() + 3_000;
  while (stubborn.some(isAlive) && Date.now() < killDeadline) await sleep(25);
  return stubborn.filter(isAlive);
}
