/**
 * Running commands for the test bed: async for the normal path, sync for
 * teardown inside a process 'exit' handler (where nothing async runs).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["rdhpf", "testbed"]);

/** Outcome of one command; a non-zero `code` is data, not an exception. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options shared by {@link run} and {@link runSync}. */
export interface RunOptions {
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  input?: string | Uint8Array;
}

const SBIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** PATH plus the sbin directories, which `sudo`, npm or CI runners often leave out but dockerd, sshd and ip live in. */
export function pathWithSbin(path: string | undefined = process.env.PATH): string {
  const parts = (path ?? "").split(":").filter(Boolean);
  for (const d of SBIN_DIRS) if (!parts.includes(d)) parts.push(d);
  return parts.join(":");
}

/** process.env merged with overrides (undefined removes a variable), PATH extended by {@link pathWithSbin}. */
export function childEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...overrides })) if (v !== undefined) out[k] = v;
  out.PATH = pathWithSbin(out.PATH);
  return out;
}

/** Runs argv to completion; never throws (a missing binary yields code 127). */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("run: empty argv");
  log.debug("Running command", { argv });
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: childEnv(opts.env),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: "SIGKILL",
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let spawnError: Error | null = null;
    child.on("error", (e) => {
      spawnError = e;
    });
    child.on("close", (code, signal) => {
      const stderr = Buffer.concat(err).toString() + (spawnError ? String(spawnError) : "");
      resolve({
        code: code ?? (signal ? 128 : spawnError ? 127 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr,
      });
    });
  });
}

/** Synchronous twin of {@link run}, for teardown in 'exit' and signal handlers. */
export function runSync(argv: readonly string[], opts: RunOptions = {}): ExecResult {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("runSync: empty argv");
  const r = spawnSync(cmd, args, {
    env: childEnv(opts.env),
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
    encoding: "utf8",
  });
  return {
    code: r.status ?? (r.error ? 127 : 128),
    stdout: r.stdout ?? "",
    stderr: (r.stderr ?? "") + (r.error ? String(r.error) : ""),
  };
}

/** Blocks the thread; only for teardown paths that must stay synchronous. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Async sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
