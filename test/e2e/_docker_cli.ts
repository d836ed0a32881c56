/**
 * The real docker CLI, driven as a user would, for the tests of rdhpf's
 * Docker socket: one DOCKER_HOST, a config dir of its own, stdin piped.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Testbed } from "../testbed/mod.ts";
import { cleanEnv, type Daemon } from "./_harness.ts";

/** How one docker command ended; `code` is null when it was killed (timeout). */
export interface DockerRun { code: number | null; stdout: string; stderr: string; ms: number }

/** The docker CLI with DOCKER_HOST=`host` and a config dir of its own; `input` is piped to stdin, then closed. */
export function docker(host: string, configDir: string, args: string[], opts: { input?: Buffer; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<DockerRun> {
  return runClient("docker", args, { ...opts, env: { DOCKER_HOST: host, DOCKER_CONFIG: configDir, ...opts.env } });
}

/** Any client program with the clean environment plus `env`; resolves when it exits (SIGKILL after timeoutMs). */
export function runClient(program: string, args: string[], opts: { input?: Buffer; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<DockerRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(program, args, { env: { ...cleanEnv(), ...opts.env }, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? Buffer.alloc(0));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString("latin1"), stderr, ms: Date.now() - started });
    });
  });
}

/** Pid of the daemon's current ssh master, from its lock file in the state dir. */
export function masterPidOf(d: Daemon): number | null {
  const f = readdirSync(d.stateDir).find((n) => n.endsWith(".lock"))!;
  return JSON.parse(readFileSync(join(d.stateDir, f), "utf8")).masterPid;
}

/**
 * Environment for `docker` with DOCKER_HOST=ssh://<tb.alias>. The docker
 * CLI's ssh:// helper runs plain `ssh` from PATH, and ssh reads the passwd
 * home's config, not $HOME's: a wrapper first in PATH gives it the test
 * bed's config. cleanup() removes the wrapper.
 */
export function sshPathWithConfigOf(tb: Testbed): { env: Record<string, string>; cleanup(): void } {
  const binDir = mkdtempSync(join(tmpdir(), "rdhpf-ssh-wrap-"));
  writeFileSync(join(binDir, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F '${tb.sshConfigFile}' "$@"\n`);
  chmodSync(join(binDir, "ssh"), 0o755);
  return { env: { PATH: `${binDir}:${process.env.PATH ?? ""}` }, cleanup: () => rmSync(binDir, { recursive: true, force: true }) };
}
