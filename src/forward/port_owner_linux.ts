/**
 * Who listens on a local TCP port, on Linux: `ss -ltnpH` prints the owning
 * process as users:(("postgres",pid=812,fd=5)). The process is only visible
 * when it belongs to us (or we are root); otherwise null.
 *
 * @module
 */
import { execFile } from "node:child_process";

/** Parses ss output into "pid 812 (postgres)". */
export function parseSsOwner(output: string): string | null {
  const m = /users:\(\("((?:[^"\\]|\\.)*)",pid=(\d+)/.exec(output);
  return m ? `pid ${m[2]} (${m[1]})` : null;
}

export function findPortOwner(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("ss", ["-ltnpH", `sport = :${port}`], { timeout: 2000 }, (err, stdout) => resolve(err ? null : parseSsOwner(String(stdout))));
  });
}
