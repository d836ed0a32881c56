/**
 * What ps(1) says about a process (macOS, and other systems without /proc).
 *
 * @module
 */
import { execFileSync } from "node:child_process";

function ps(pid: number, field: string): string | null {
  try {
    return execFileSync("ps", ["-p", String(pid), "-o", `${field}=`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || null;
  } catch {
    return null; // ps exits 1 when no such process exists
  }
}

/** The state of a process as its first letter (R, S, U, Z, ...; ps(1) "stat"), or null when it is gone. */
export function processState(pid: number): string | null {
  return ps(pid, "stat")?.[0] ?? null;
}

/** The command line of a process, or null when it is gone. */
export function commandLine(pid: number): string | null {
  return ps(pid, "command");
}
