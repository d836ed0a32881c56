/**
 * Drives the compiled binary (dist/rdhpf-<platform>) exactly as a user
 * would: argv, environment, signals, exit codes, stderr. Shared by the
 * end-to-end and fault-injection tests.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StatusDocumentSchema, type StatusDocument } from "../../src/status/schema.ts";
import type { Testbed } from "../testbed/mod.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The binary under test: RDHPF_TEST_BINARY (npm test, demo, bench and soak set it from scripts/pick_binary.ts), else the host build in dist/. */
export const BINARY = process.env.RDHPF_TEST_BINARY ?? join(root, "dist", `rdhpf-${process.platform}-${process.arch}`);

export function requireBinary(): void {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`bun scripts/build-binaries.ts --host\` or set RDHPF_TEST_BINARY (npm test does, see scripts/pick_binary.ts)`);
}

export interface ExecResult { code: number | null; stdout: string; stderr: string }

/** Runs the binary to completion. */
export function rdhpf(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(BINARY, args, { env: { ...cleanEnv(), ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The environment without the user's own rdhpf/docker settings. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("RDHPF_") && k !== "DOCKER_HOST" && k !== "DOCKER_CONTEXT" && k !== "SSH_AUTH_SOCK") env[k] = v;
  }
  return env;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** A running `rdhpf run` against a test bed. */
export class Daemon {
  readonly proc: ChildProcess;
  private out = "";
  readonly stateDir: string;
  readonly env: Record<string, string>;
  exitCode: number | null = null;
  readonly exited: Promise<number | null>;

  constructor(readonly tb: Testbed, extraArgs: string[] = [], opts: { stateDir?: string; env?: Record<string, string>; binary?: string } = {}) {
    this.stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    this.env = { ...cleanEnv(), RDHPF_STATE_DIR: this.stateDir, ...opts.env };
    this.proc = spawn(opts.binary ?? BINARY, ["run", "--host", tb.alias, "-F", tb.sshConfigFile, ...extraArgs], { env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", (d) => (this.out += d));
    this.proc.stderr!.on("data", (d) => (this.out += d));
    this.exited = new Promise((resolve) => this.proc.on("exit", (code) => { this.exitCode = code; resolve(code); }));
  }

  get pid(): number { return this.proc.pid!; }
  logs(): string { return this.out; }

  waitForLog(re: RegExp, timeoutMs = 10_000): Promise<string> {
    return waitFor(`log line ${re}`, () => this.out.match(re)?.[0], timeoutMs);
  }

  /** `rdhpf status --format json` for this daemon's host. */
  async status(): Promise<StatusDocument> {
    const r = await rdhpf(["status", "--host", this.tb.alias, "-F", this.tb.sshConfigFile, "--format", "json"], { RDHPF_STATE_DIR: this.stateDir });
    const json = JSON.parse(r.stdout);
    return StatusDocumentSchema.parse(json.instances ? json.instances[0] : json);
  }

  /** Sends a signal and waits for the exit (SIGKILL after timeoutMs). */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 5000): Promise<number | null> {
    if (this.exitCode === null) this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  cleanup(): void {
    if (this.exitCode === null) this.proc.kill("SIGKILL");
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** GET http://host:port/ with a short timeout; resolves the body or null. */
export function httpGet(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let data = "";
    const done = (v: string | null) => { sock.destroy(); clearTimeout(timer); resolve(v); };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("connect", () => sock.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    sock.on("data", (d) => (data += d));
    sock.on("end", () => done(data.includes("200") ? data : null));
    sock.on("error", () => done(null));
  });
}

/** True when nothing listens on host:port (connection refused). */
export function isRefused(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.on("connect", () => { sock.destroy(); resolve(false); });
    sock.on("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

/** Local TCP listeners as "addr:port" strings (from `ss -ltnH`). */
export function localListeners(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile("ss", ["-ltnH"], (err, stdout) => {
      if (err) return reject(err);
      resolve(String(stdout).trim().split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/)[3]!.replace(/^\[(.*)\]/, "$1")));
    });
  });
}

/** A free local TCP port (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

/** Children of pid as [pid, command name], from /proc (Linux). */
export function childrenOf(pid: number): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may contain spaces and parentheses.
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid === pid) out.push([Number(d), stat.slice(stat.indexOf("(") + 1, close)]);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
