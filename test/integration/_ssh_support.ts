/**
 * Helpers shared by the SSH layer's integration tests: a private runtime dir,
 * an SshContext for a test bed, and process checks.
 *
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshContext } from "../../src/ssh/argv.ts";
import { parseTarget } from "../../src/ssh/target.ts";
import type { Testbed } from "../testbed/mod.ts";

/** A 0700 temp dir standing in for rdhpf's runtime dir; `remove()` deletes it. */
export function runtimeDirForTest(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-sshtest-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An SshContext for the test bed's alias and client config. */
export function contextFor(tb: Testbed, runtimeDir: string, over: Partial<SshContext> = {}): SshContext {
  return {
    sshBinary: "ssh",
    configFile: tb.sshConfigFile,
    options: [],
    target: parseTarget(tb.alias),
    controlPath: join(runtimeDir, "master.ssh.sock"),
    ...over,
  };
}

/** True while a process with this pid exists (and is not a zombie). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `needle` (e.g. a control socket path). */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ");
      if (cmdline.includes(needle) && pidAlive(Number(name))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Connects to a local TCP port and returns the first bytes answered to an HTTP GET, or the error code. */
export function httpGetLocal(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    let data = "";
    const done = (v: string) => {
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(data || "TIMEOUT"), timeoutMs);
    s.on("connect", () => s.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    s.on("data", (c) => (data += c.toString()));
    s.on("end", () => {
      clearTimeout(timer);
      done(data);
    });
    s.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done(e.code ?? "ERROR");
    });
  });
}

/** Polls until `check()` holds or `timeoutMs` passes. */
export async function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
