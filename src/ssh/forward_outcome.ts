/**
 * Reading what a batch of `ssh -O forward` / `-O cancel` did to each spec:
 * which ones failed and why, in words for status and logs. Pure, apart from
 * the bind probe that names a cause ssh did not print.
 *
 * Measured with OpenSSH 9.2 on a 2-core Debian 12 machine, sshd on loopback:
 * - One `-O forward` with several -L where one fails (local port busy) does
 *   NOT stop at the failure: every -L is attempted, the others are
 *   established, ssh exits 255 and prints per failed -L
 *   "mux_client_forward: forwarding request failed: Port forwarding failed"
 *   plus "muxclient: master forward request failed" — without naming which.
 *   The cause goes to the MASTER's stderr: "bind [127.0.0.1]:5432: Address
 *   already in use", "channel_setup_fwd_listener_tcpip: cannot listen to
 *   port: 5432", "mux_master_process_open_fwd: requested local forward
 *   127.0.0.1:5432 -> 127.0.0.1:5432 failed" (the last at LogLevel INFO).
 * - `-O forward` of a forward the master already holds (same -L) succeeds
 *   (exit 0, no change); the same local port with a different remote end
 *   fails like a busy port.
 * - So `forward()` learns each spec's fate from the master's "requested
 *   local forward ... failed" lines when their number matches the client's
 *   failures (20 -L with one busy: 1 ssh run, ~10 ms); otherwise it retries
 *   the specs of the failed batch one by one (21 runs, ~150 ms): established
 *   ones answer "ok" again, failed ones fail again with their own cause.
 *
 * @module
 */
import { tryListen } from "../listens.ts";
import type { LocalForward } from "./argv.ts";
import { classifySshStderr, type SshErrorKind, type SshFailure } from "./errors.ts";
import type { SshRunResult } from "./process.ts";

/** Outcome of one forward spec (internal bookkeeping). */
export interface ForwardOutcome {
  forward: LocalForward;
  ok: boolean;
  failure: SshFailure | null;
}

/** A spec the master could not set up (or cancel), and why. */
export interface FailedForward {
  spec: LocalForward;
  /** One line for status and logs: what failed and the next step. */
  reason: string;
  /** The local address and port are taken (by another process or another forward). */
  portInUse: boolean;
  failure: SshFailure;
}

/** Outcome of a batch of forwards or cancels. */
export interface MuxResult {
  /** Specs now in place (forward) or gone (cancel), in the order given. */
  ok: LocalForward[];
  failed: FailedForward[];
  /** Wall time including retries. */
  durationMs: number;
  /** ssh processes run: one per batch of `SPECS_PER_CALL`, plus bounded retries (see `forward()`). */
  sshRuns: number;
}

/**
 * Most -L specs in one ssh call. A spec is at most ~100 bytes, so 200 keep
 * the argv near 20 KiB, far below the OS limits (macOS: 1 MiB for argv and
 * environment together; Linux: 2 MiB, 128 KiB per string), and one call
 * still carries a whole container's worth of ports in the common case.
 */
export const SPECS_PER_CALL = 200;
/**
 * Most single-spec retries per `forward()` when ssh does not say which specs
 * of a failed call failed: each costs an ssh process (~5 ms), and a host that
 * publishes thousands of ports that all fail must not cost thousands of them.
 */
export const SOLO_RETRIES_PER_CALL = 64;

/** `items` in consecutive slices of at most `size`. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function failureOf(r: SshRunResult, extra = ""): SshFailure {
  if (r.timedOut) return { kind: "timeout", message: "ssh mux operation timed out", hint: "the SSH ControlMaster does not answer; rdhpf reconnects by itself" };
  return classifySshStderr(`${extra}\n${r.stderr}`);
}

/** True for failures that hit every spec alike (no master, timeout). */
export function isWholesale(kind: SshErrorKind): boolean {
  return kind === "master-gone" || kind === "timeout" || kind === "control-socket-in-use";
}

/**
 * The lines of the master's stderr about one forward, found by its local
 * address and port as ssh prints them ("bind [127.0.0.1]:5432: ...",
 * "requested local forward 127.0.0.1:5432 -> ...").
 */
export function masterLinesFor(masterText: string, f: LocalForward): string {
  const needles = [`[${f.bindAddress}]:${f.localPort}:`, `local forward ${f.bindAddress}:${f.localPort} `, `cannot listen to port: ${f.localPort}`];
  return masterText
    .split(/\r?\n/)
    .filter((l) => needles.some((n) => l.includes(n)))
    .join("\n");
}

/**
 * Indexes of the forwards the master reported as failed. OpenSSH 9.2 logs
 * (at LogLevel INFO) "mux_master_process_open_fwd: requested local forward
 * 127.0.0.1:5432 -> 127.0.0.1:5432 failed", addresses without brackets.
 */
export function failedForwardsInMasterLog(masterText: string, forwards: LocalForward[]): Set<number> {
  const failed = new Set<number>();
  forwards.forEach((f, i) => {
    if (masterText.includes(`requested local forward ${f.bindAddress}:${f.localPort} -> ${f.remoteHost}:${f.remotePort} failed`)) failed.add(i);
  });
  return failed;
}

/** Asks the OS whether a local TCP port can be bound, to name the cause when ssh did not. */
export async function probeBind(f: LocalForward): Promise<SshFailure | null> {
  const err = await tryListen(f.localPort, f.bindAddress);
  if (err === null) return null;
  return classifySshStderr(`bind [${f.bindAddress}]:${f.localPort}: ${err.code === "EADDRINUSE" ? "Address already in use" : err.message}`);
}

/** One line for status: what failed and, where it helps, the next step. */
export function failureReason(f: SshFailure): string {
  if (f.kind === "port-in-use" && f.hint) return f.hint;
  if (f.message === "") return f.hint ?? f.kind;
  return f.hint ? `${f.message} (${f.hint})` : f.message;
}

export function toMuxResult(outcomes: ForwardOutcome[], durationMs: number, sshRuns: number): MuxResult {
  const failed: FailedForward[] = [];
  const ok: LocalForward[] = [];
  for (const o of outcomes) {
    if (o.ok) {
      ok.push(o.forward);
    } else {
      const failure = o.failure ?? { kind: "unknown" as const, message: "", hint: null };
      failed.push({ spec: o.forward, reason: failureReason(failure), portInUse: failure.kind === "port-in-use", failure });
    }
  }
  return { ok, failed, durationMs, sshRuns };
}
