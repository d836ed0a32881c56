/**
 * Running ssh: short-lived operations (`runSsh`) and long-lived processes
 * (`spawnSsh`: the master, `docker system dial-stdio` bridges). Every argv
 * comes from `sshArgv`; every run is logged at debug level.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { getLogger } from "@logtape/logtape";
import { shellLine } from "../shell_words.ts";
import { type SshContext, type SshOperation, sshArgv } from "./argv.ts";
import { classifySshStderr, spawnFailure } from "./errors.ts";

const log = getLogger(["rdhpf", "ssh"]);

/** Output beyond this is dropped: rdhpf's commands print little, a runaway remote must not fill memory. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

/** Result of one finished ssh run. */
export interface SshRunResult {
  /** Exit status, or null when ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when rdhpf killed it after `timeoutMs`. */
  timedOut: boolean;
}

/** Options of `runSsh`. */
export interface RunSshOptions {
  /** Kill (SIGKILL) the process after this long. Default 10 000 ms. */
  timeoutMs?: number;
  /** Written to ssh's stdin; without it stdin is /dev/null. */
  stdin?: string;
}

/** Collects a stream up to `MAX_OUTPUT_BYTES`, counting what it dropped. */
class BoundedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;
  push(chunk: Buffer): void {
    const room = MAX_OUTPUT_BYTES - this.size;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
    this.dropped += chunk.length - kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * Runs one short ssh operation to completion and collects its output. Resolves
 * also on failure (non-zero code); rejects only when ssh cannot be started.
 */
export function runSsh(op: SshOperation, ctx: SshContext, opts: RunSshOptions = {}): Promise<SshRunResult> {
  const argv = sshArgv(op, ctx);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  log.debug("Running ssh", { op: op.kind, argv: shellLine([ctx.sshBinary, ...argv]) });
  const startedMs = performance.now();
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // Bun throws spawn errors such as E2BIG here; Node and Deno emit "error".
      child = spawn(ctx.sshBinary, argv, { stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    } catch (err) {
      reject(spawnFailure(ctx.sshBinary, argv, err));
      return;
    }
    const stdout = new BoundedBuffer();
    const stderr = new BoundedBuffer();
    let timedOut = false;
    let settled = false;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

    const finish = () => {
      if (settled || exitInfo === null) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      const result: SshRunResult = {
        ...exitInfo,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: Math.round(performance.now() - startedMs),
        timedOut,
      };
      if (result.code === 0) {
        log.debug("ssh finished", { op: op.kind, code: result.code, durationMs: result.durationMs });
      } else {
        const failure = classifySshStderr(result.stderr);
        log.debug("ssh failed", {
          op: op.kind, code: result.code, signal: result.signal, timedOut, durationMs: result.durationMs,
          kind: failure.kind, sshMessage: failure.message,
        });
      }
      log.trace("ssh output sizes", { op: op.kind, stdoutBytes: result.stdout.length, stderrBytes: result.stderr.length, droppedBytes: stdout.dropped + stderr.dropped });
      resolve(result);
    };

    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
    }, timeoutMs);
    // A ProxyCommand's children can keep ssh's pipes open after ssh exits;
    // don't wait for them forever once ssh itself is gone.
    let drainTimer: ReturnType<typeof setTimeout> | undefined;

    child.stdout!.on("data", (c: Buffer) => stdout.push(c));
    child.stderr!.on("data", (c: Buffer) => stderr.push(c));
    child.on("error", (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(spawnFailure(ctx.sshBinary, argv, err));
    });
    child.on("exit", (code, signal) => {
      exitInfo = { code, signal };
      drainTimer = setTimeout(finish, 500);
    });
    child.on("close", (code, signal) => {
      exitInfo ??= { code, signal };
      finish();
    });
    if (opts.stdin !== undefined) {
      child.stdin!.on("error", () => {}); // ssh may exit before reading it all
      child.stdin!.end(opts.stdin);
    }
  });
}

/** Options of `spawnSsh`. */
export interface SpawnSshOptions {
  /** "pipe" for bridges that talk over stdin/stdout; default "ignore" (/dev/null). */
  stdin?: "pipe" | "ignore";
  /** Default "pipe". The master prints nothing on stdout; use "ignore" there. */
  stdout?: "pipe" | "ignore";
  /** Default "pipe"; a file descriptor for the master, whose stderr must outlive rdhpf (master_stderr.ts). */
  stderr?: "pipe" | number;
}

/**
 * Starts a long-lived ssh process (the master, dial-stdio bridges). stderr is
 * a pipe unless a file descriptor is given: the caller must read it (and
 * classify, never log it raw).
 * The child stays in rdhpf's process group, so a service manager that ends
 * the group ends it too. Throws when ssh cannot be started.
 */
export function spawnSsh(op: SshOperation, ctx: SshContext, opts: SpawnSshOptions = {}): ChildProcess {
  const argv = sshArgv(op, ctx);
  log.debug("Starting ssh", { op: op.kind, argv: shellLine([ctx.sshBinary, ...argv]) });
  try {
    return spawn(ctx.sshBinary, argv, { stdio: [opts.stdin ?? "ignore", opts.stdout ?? "pipe", opts.stderr ?? "pipe"] });
  } catch (err) {
    throw spawnFailure(ctx.sshBinary, argv, err);
  }
}
