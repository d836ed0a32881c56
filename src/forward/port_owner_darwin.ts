/**
 * Who listens on a local TCP port, on macOS: `lsof -Fpc` prints "p<pid>" and
 * "c<command>" lines.
 *
 * @module
 */
import { execFile } from "node:child_process";

/** Parses lsof -F output into "pid 812 (postgres)". */
export function parseLsofOwner(output: string): string | null {
  const pid = /^p(\d+)$/m.exec(output)?.[1];
  const cmd = /^c(.*)$/m.exec(output)?.[1];
  return pid ? `pid ${pid} (${cmd ?? "?"})` : null;
}

export function findPortOwner(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("lsof", ["-nP", `-iTCP:${port}`, "-sTCP:LISTEN", "-Fpc"], { timeout: 2000 }, (err, stdout) => resolve(err ? null : parseLsofOwner(String(stdout))));
  });
}
