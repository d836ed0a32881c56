/**
 * Starting long-running daemons inside the test bed's namespace and waiting
 * until they answer.
 *
 * `nsenter --net=` rather than `ip netns exec`: the latter remounts /sys and
 * dockerd then fails with "Devices cgroup isn't mounted". nsenter execs the
 * program in place, so the pid we spawn is the daemon's own pid.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { getLogger } from "@logtape/logtape";
import { childEnv, sleep } from "./_exec.ts";
import { netnsPath } from "./_network.ts";
import { isAlive } from "./_procs.ts";

const log = getLogger(["rdhpf", "testbed"]);

/** Spawns argv inside the namespace, detached, output appended to logFile; returns its pid. */
export function spawnInNetns(netns: string, argv: readonly string[], logFile: string, env: Record<string, string> = {}): number {
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn("nsenter", [`--net=${netnsPath(netns)}`, "--", ...argv], {
      detached: true, // own process group: a Ctrl+C in the terminal reaches us, and we tear down in order
      stdio: ["ignore", fd, fd],
      env: childEnv({ ...cleanEnv(), ...env }),
    });
    child.on("error", () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not spawn ${argv[0]} in namespace ${netns}`);
    log.debug("Spawned daemon in namespace", { netns, argv, pid: child.pid });
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Removes variables that would point our daemons at the wrong place (a DOCKER_HOST of the caller, systemd's notify socket). */
function cleanEnv(): Record<string, undefined> {
  const out: Record<string, undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith("DOCKER_") || k === "NOTIFY_SOCKET") out[k] = undefined;
  return out;
}

/** Last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** One GET /_ping over the Engine socket; true when the daemon answered OK. */
export function pingDocker(socketPath: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(res.statusCode === 200 && body === "OK"));
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/**
 * Polls `ready` until it holds; fails early with the daemon's log when the
 * daemon died, and after timeoutMs otherwise.
 */
export async function waitFor(what: string, pid: number, logFile: string, ready: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return;
    if (!isAlive(pid)) throw new Error(`${what} (pid ${pid}) exited during start-up; last lines of ${logFile}:\n${tail(logFile)}`);
    await sleep(50);
  }
  throw new Error(`${what} (pid ${pid}) not ready after ${timeoutMs} ms; last lines of ${logFile}:\n${tail(logFile)}`);
}

/** Whether a path exists (socket files appear when a daemon listens). */
export function exists(path: string): boolean {
  return existsSync(path);
}
