/**
 * One instance per remote host. The lock file holds the daemon's pid and its
 * SSH master's pid, so that the next start can tell a live instance (refuse)
 * from one that is gone but whose master lives on: after a hand-over
 * (SIGUSR2), a crash or a SIGKILL. That master is adopted when it checks out
 * (adoption.ts), else ended first (its listeners would shadow ours).
 *
 * @module
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { RdhpfError } from "../errors.ts";
import { commandLine, isAlive, terminate, waitForExit } from "../process/mod.ts";
import type { InstancePaths } from "../paths.ts";
import type { AdoptionDecision } from "./adoption.ts";
import { writeFileAtomic } from "../atomic_file.ts";

const log = getLogger(["rdhpf", "daemon"]);

export const LockSchema = z.object({
  pid: z.number().int(),
  masterPid: z.number().int().nullable(),
  host: z.string(),
  startedAt: z.string(),
  /** Set by a daemon that exited on SIGUSR2 leaving its master for the next start. */
  handedOver: z.boolean().default(false),
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

/** Decides about the master a previous run left (adoption.ts); the default never adopts. */
export type AdoptionRule = (masterPid: number | null) => Promise<AdoptionDecision>;

const neverAdopt: AdoptionRule = async (masterPid) => ({ action: "start-clean", reason: "adoption not asked for", endMaster: masterPid });

export class InstanceLock {
  private content: LockContent;
  /** What became of the previous run's master: adopted (to be taken over by the engine) or why not. */
  adoption: AdoptionDecision = { action: "start-clean", reason: "no previous run recorded", endMaster: null };
  /** Set by handOver(): release() then leaves the file for the next start. */
  private handedOver = false;

  private constructor(private readonly paths: InstancePaths, host: string) {
    this.content = { pid: process.pid, masterPid: null, host, startedAt: new Date().toISOString(), handedOver: false };
  }

  /**
   * Takes the lock for this host. The master a dead instance left is adopted
   * when `decide` says so (the lock then names it), else ended first. Throws
   * (exit 1) naming the pid when another instance runs.
   */
  static async acquire(paths: InstancePaths, host: string, decide: AdoptionRule = neverAdopt): Promise<InstanceLock> {
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
      // A daemon that handed over exits at once; give it that moment.
      if (other?.handedOver && isRdhpf(other.pid)) await waitForExit(other.pid, 2000);
      if (other && isRdhpf(other.pid)) {
        throw new RdhpfError(
          `rdhpf is already running for ${other.host} (PID ${other.pid})`,
          `check it with \`rdhpf status --host ${host}\`, or stop it with \`kill ${other.pid}\``,
          1,
        );
      }
      const decision = await decide(other?.masterPid ?? null);
      lock.adoption = decision;
      if (decision.action === "adopt") {
        // The master keeps its control socket and the Docker socket forward it holds.
        lock.content = { ...lock.content, masterPid: decision.masterPid };
        for (const stale of [paths.lockFile, paths.controlApiSocket]) rmSync(stale, { force: true });
        continue;
      }
      const end = decision.endMaster;
      if (end !== null && isAlive(end) && (commandLine(end) ?? "").includes(paths.controlSocket)) {
        log.warn("Ending orphaned SSH master left by a previous run", { master_pid: end, previous_pid: other?.pid ?? null, why: decision.reason });
        const t0 = performance.now();
        await terminate(end);
        log.debug("Orphaned SSH master ended", { master_pid: end, duration_ms: Math.round(performance.now() - t0) });
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

  /** Hand-over: says so in the lock file, which keeps naming the master, and leaves it for the next start. */
  handOver(): void {
    this.content = { ...this.content, handedOver: true };
    writeFileAtomic(this.paths.lockFile, JSON.stringify(this.content));
    this.handedOver = true;
  }

  /** Removes the lock file, unless it was handed over (the next start needs what it names). */
  release(): void {
    if (this.handedOver) return;
    const current = readLock(this.paths.lockFile);
    if (current?.pid === process.pid) rmSync(this.paths.lockFile, { force: true });
  }
}
