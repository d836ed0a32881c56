/**
 * What /proc says about a process (Linux).
 *
 * @module
 */
import { readFileSync } from "node:fs";

/**
 * The state letter of /proc/PID/stat (R, S, D, Z, ...), or null when the
 * process is gone. The command name in parentheses may itself hold spaces
 * and ")", so the state is read after the last ")" (proc(5)).
 */
export function processState(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  return /^\s*(\S)/.exec(stat.slice(stat.lastIndexOf(")") + 1))?.[1] ?? null;
}

/** The command line of a process (arguments joined by spaces), or null when it is gone. */
export function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return null;
  }
}
