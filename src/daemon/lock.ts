/**
 * One instance per remote host. The lock file holds the daemon's pid and its
 * SSH master's pid, so that the next start can tell a live instance (refuse)
 * from a SIGKILLed one whose master lived on (end that orphan first: its
 * listeners would otherwise shadow ours).
 *
 * @module
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { RdhpfError } from "../errors.ts";
import { commandLine, isAlive, terminate } from "../process/mod.ts";
import type { InstancePaths } from "../paths.ts";
import { writeFileAtomic } from "../atomic_file.ts";

const log = getLogger(["rdhpf", "daemon"]);

export const LockSchema = z.object({
  pid: z.number().int(),
  masterPid: z.number().int().nullable(),
  host: z.string(),
  startedAt: z.string(),
});
export type LockContent = z.infer<typeof LockSchema>;

function readLock(path: string): LockContent | null {
  try {
    return LockSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch {
    return null;
  }
}

/** Is `pid` an rdhpf process (and not an unrelated one that reused the pid)? */
function isRdhpf(pid: number): boolean {
  if (pid === process.pid || !isAlive(pid)) return false;
  const cmd = commandLine(pid);
  return cmd !== null && /rdhpf|main\.ts/.test(cmd) && /\brun\b/.test(cmd);
}

export class InstanceLock {
  private content: LockContent;
  private constructor(private readonly paths: InstancePaths, host: string) {
    this.content = { pid: process.pid, masterPid: null, host, startedAt: new Date().toISOString() };
  }

  /**
   * Takes the lock for this host, ending an orphaned master of a dead
   * instance first. Throws (exit 1) naming the pid when another instance runs.
   */
  static async acquire(paths: InstancePaths, host: string): Promise<InstanceLock> {
    const lock = new InstanceLock(paths, host);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(paths.lockFile, "wx", 0o600);
        writeSync(fd, JSON.stringify(lock.content));
        closeSync(fd);
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const other = readLock(paths.lockFile);
      if (other && isRdhpf(other.pid)) {
        throw new RdhpfError(
          `rdhpf is already running for ${other.host} (PID ${other.pid})`,
          `check it with \`rdhpf status --host ${host}\`, or stop it with \`kill ${other.pid}\``,
          1,
        );
      }
      if (other?.masterPid && isAlive(other.masterPid) && (commandLine(other.masterPid) ?? "").includes(paths.controlSocket)) {
        log.warn("Ending orphaned SSH master left by a previous run", { master_pid: other.masterPid, previous_pid: other.pid });
        const t0 = performance.now();
        await terminate(other.masterPid);
        log.debug("Orphaned SSH master ended", { master_pid: other.masterPid, duration_ms: Math.round(performance.now() - t0) });
      }
      for (const stale of [paths.lockFile, paths.controlSocket, paths.dockerSocket, paths.controlApiSocket]) rmSync(stale, { force: true });
    }
    throw new RdhpfError(`could not take the instance lock ${paths.lockFile}`, "another rdhpf may be starting for the same host; try again", 1);
  }

  /** Records the current master pid (so a successor can end it if we die). */
  setMasterPid(pid: number | null): void {
    this.content = { ...this.content, masterPid: pid };
    writeFileAtomic(this.paths.lockFile, JSON.stringify(this.content));
  }

  release(): void {
    const current = readLock(this.paths.lockFile);
    if (current?.pid === process.pid) rmSync(this.paths.lockFile, { force: true });
  }
}
