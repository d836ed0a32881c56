/**
 * Operations through the master's socket: adding and cancelling forwards,
 * running rdhpf's fixed remote commands. None of them can open a second
 * connection (see argv.ts).
 *
 * Forwards are added and cancelled in the mux protocol itself, on the
 * control socket (mux_client.ts): one connection, one hello, every request
 * of the batch written at once, one reply per request. No ssh process is
 * started, and each forward's own reply says whether it failed.
 *
 * Measured with OpenSSH 9.2 on a 2-core Debian 12 machine shared with other
 * work (load average 3.5-17), sshd on loopback, scripts/bench_mux_forward.ts:
 * - Adding a forward pair (127.0.0.1 and ::1), three runs of 50-200 samples:
 *   p50 0.6-0.8 ms, p99 3.6-8.4 ms through the protocol; p50 9.5-10.4 ms,
 *   p99 12-28 ms with `ssh -O forward` (its fork and exec; ~5 ms on a quiet
 *   machine). Connect + hello + alive check alone: p50 0.45 ms.
 * - A batch of 2,000 forwards: 0.6-0.75 s through the protocol, 1.9-2.9 s
 *   with `ssh -O forward` in calls of 200 -L (load average 9-15). What
 *   remains is the master's: it handles one request per main-loop pass, and
 *   each pass costs more the more listeners it holds.
 * - `ssh -O forward` and the protocol are interchangeable: a forward opened
 *   one way is found (and cancelled) the other way, which matters for a
 *   master adopted from an rdhpf that used either.
 * - How a failed forward's cause is named: forward_outcome.ts.
 * - Cancelling a unix socket forward leaves the socket file behind, and a
 *   new forward to an existing file fails ("unix_listener: cannot bind to
 *   path ...: Address already in use"): rdhpf removes the file itself.
 * - A remote command through the mux costs the remote login shell (~90 ms
 *   for a plain bash here, 0.5-1.3 s on hosts with heavy shell start-up).
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { lstatSync, rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { connects } from "../connects.ts";
import { sleep } from "../sleep.ts";
import { displaySafe } from "../text_safety.ts";
import { forwardSpec, type LocalForward, muxForward, muxSocketForward, type SshContext } from "./argv.ts";
import { classifySshStderr, SshConnectError, type SshFailure } from "./errors.ts";
import type { MasterLog } from "./master.ts";
import {
  brokenExchangeFailure,
  failureOf,
  type ForwardOutcome,
  masterLinesFor,
  type MuxResult,
  probeBind,
  refusedRequestFailure,
  toMuxResult,
} from "./forward_outcome.ts";
import { type MuxExchange, muxExchange } from "./mux_client.ts";
import { encodeCloseForward, encodeOpenForward, type MuxForward, type MuxMessage } from "./mux_protocol.ts";
import { runSsh, spawnSsh, type SshRunResult } from "./process.ts";

const log = getLogger(["rdhpf", "ssh", "mux"]);

/** Result of a remote command. */
export interface ExecResult extends SshRunResult {
  /** Set when ssh (not the remote command) failed, e.g. the master is gone. */
  failure: SshFailure | null;
}

/** Options of `Mux`. */
export interface MuxOptions {
  /** The master's stderr, to name the cause of a failed forward. */
  masterLog?: MasterLog;
  /** How long the master may take to answer each request (and the hello). Default 5000 ms. */
  opTimeoutMs?: number;
}

/** Mux operations on one master. */
export class Mux {
  private readonly opTimeoutMs: number;
  private masterLog: MasterLog | null;

  constructor(readonly ctx: SshContext, opts: MuxOptions = {}) {
    this.opTimeoutMs = opts.opTimeoutMs ?? 5000;
    this.masterLog = opts.masterLog ?? null;
  }

  /** Points at the stderr of the current master (a new one after each reconnect); null to forget it. */
  attachMasterLog(masterLog: MasterLog | null): void {
    this.masterLog = masterLog;
  }

  /** Sends one open or close request per forward over one connection. */
  private exchange(op: "forward" | "cancel", forwards: MuxForward[], specs: string[]): Promise<MuxExchange> {
    if (log.isEnabledFor("debug")) for (const spec of specs) log.debug("Mux request", { op, spec });
    const encode = op === "forward" ? encodeOpenForward : encodeCloseForward;
    return muxExchange(this.ctx.controlPath, forwards.map((f) => (requestId: number) => encode(requestId, f)), this.opTimeoutMs);
  }

  /**
   * Adds forwards, all in one exchange with the master. The result says
   * which succeeded and why the others failed: the master's own lines name
   * the cause (a busy port, say), else a bind probe does.
   */
  async forward(forwards: LocalForward[]): Promise<MuxResult> {
    const startedMs = performance.now();
    if (forwards.length === 0) return { ok: [], failed: [], durationMs: 0 };
    const specs = forwards.map(forwardSpec);
    const mark = this.masterLog?.cursor() ?? 0;
    const { replies, broken } = await this.exchange("forward", forwards.map(muxForward), specs);
    const wholesale = broken && brokenExchangeFailure(broken);
    const outcomes: ForwardOutcome[] = [];
    const masterText = new MasterText(this.masterLog, mark);
    for (const [i, forward] of forwards.entries()) {
      const reply = replies[i];
      if (reply?.type === "ok") outcomes.push({ forward, ok: true, failure: null });
      else if (reply === undefined) outcomes.push({ forward, ok: false, failure: wholesale });
      else outcomes.push({ forward, ok: false, failure: await this.explain(forward, replyFailure(reply), masterText) });
    }
    const result = toMuxResult(outcomes, Math.round(performance.now() - startedMs));
    log.debug("Mux forward", { specs: forwards.length, failed: result.failed.length, durationMs: result.durationMs });
    for (const f of result.failed) {
      log.debug("Mux forward failed", { spec: forwardSpec(f.spec), kind: f.failure.kind, sshMessage: f.failure.message });
    }
    return result;
  }

  /**
   * Names the cause of a failed forward: the master's own line about it,
   * else a local bind probe, else the master's answer.
   */
  private async explain(forward: LocalForward, answer: SshFailure, masterText: MasterText): Promise<SshFailure> {
    const lines = await masterText.linesFor((text) => masterLinesFor(text, forward));
    if (lines) {
      const fromMaster = classifySshStderr(lines);
      if (fromMaster.kind !== "unknown") return fromMaster;
    }
    return (await probeBind(forward)) ?? answer;
  }

  /**
   * Cancels forwards, all in one exchange with the master. A spec the
   * master does not hold counts as cancelled (the goal is "not forwarded");
   * only a failure to reach the master fails the specs.
   */
  async cancel(forwards: LocalForward[]): Promise<MuxResult> {
    const startedMs = performance.now();
    if (forwards.length === 0) return { ok: [], failed: [], durationMs: 0 };
    const { replies, broken } = await this.exchange("cancel", forwards.map(muxForward), forwards.map(forwardSpec));
    const wholesale = broken && brokenExchangeFailure(broken);
    // Any answer means the master no longer holds the forward: "port not
    // forwarded" is the usual refusal, and `ssh -O cancel` exited 0 for all.
    const outcomes = forwards.map((forward, i) => (replies[i] === undefined ? { forward, ok: false, failure: wholesale } : { forward, ok: true, failure: null }));
    const notForwarded = replies.filter((r) => r !== undefined && r.type !== "ok").length;
    const result = toMuxResult(outcomes, Math.round(performance.now() - startedMs));
    log.debug("Mux cancel", { specs: forwards.length, notForwarded, failed: result.failed.length, durationMs: result.durationMs });
    return result;
  }

  /**
   * Forwards a local unix socket to a remote one. A leftover socket file
   * that nothing answers on is removed first (ssh would refuse to bind).
   * Throws an `SshConnectError` naming the cause when the master refuses.
   * Note: an sshd with `AllowStreamLocalForwarding no` accepts the forward
   * and closes each connection made through it; only a request tells.
   */
  async forwardSocket(localPath: string, remotePath: string): Promise<{ durationMs: number }> {
    const startedMs = performance.now();
    const forward = muxSocketForward(localPath, remotePath);
    let exists = false;
    try {
      exists = lstatSync(localPath).isSocket();
    } catch {
      exists = false;
    }
    if (exists && !(await connects({ path: localPath }, 1000))) rmSync(localPath, { force: true });
    const mark = this.masterLog?.cursor() ?? 0;
    const { replies, broken } = await this.exchange("forward", [forward], [`${localPath}:${remotePath}`]);
    const durationMs = Math.round(performance.now() - startedMs);
    const reply = replies[0];
    if (reply?.type !== "ok") {
      let failure: SshFailure;
      if (reply === undefined) {
        failure = brokenExchangeFailure(broken!);
      } else {
        const lines = await new MasterText(this.masterLog, mark).linesFor((text) => text.split(/\r?\n/).filter((l) => l.includes(localPath)).join("\n"));
        const fromMaster = classifySshStderr(lines);
        failure = fromMaster.kind === "unknown" ? replyFailure(reply) : fromMaster;
      }
      log.debug("Mux socket forward failed", { localPath, remotePath: displaySafe(remotePath, 200), kind: failure.kind, sshMessage: failure.message, durationMs });
      throw new SshConnectError(failure.kind, `forwarding ${localPath} to the remote socket ${displaySafe(remotePath, 200)} failed: ${failure.message || failure.kind}`, failure.hint);
    }
    log.debug("Mux socket forward", { localPath, remotePath: displaySafe(remotePath, 200), durationMs });
    return { durationMs };
  }

  /**
   * Cancels a unix socket forward and removes the local socket file, which
   * ssh leaves behind. Throws an `SshConnectError` when the master cannot be
   * reached (the file is removed anyway).
   */
  async cancelSocket(localPath: string, remotePath: string): Promise<{ durationMs: number }> {
    const startedMs = performance.now();
    const { broken } = await this.exchange("cancel", [muxSocketForward(localPath, remotePath)], [`${localPath}:${remotePath}`]);
    rmSync(localPath, { force: true });
    if (broken) {
      const failure = brokenExchangeFailure(broken);
      throw new SshConnectError(failure.kind, `cancelling the forward of ${localPath} failed: ${failure.message}`, failure.hint);
    }
    return { durationMs: Math.round(performance.now() - startedMs) };
  }

  /**
   * Runs one of rdhpf's fixed remote commands through the master (never
   * data from containers or users: the remote shell interprets it, see
   * `sshArgv`). A non-zero `code` alone may be the command's own status;
   * `failure` is set only when ssh itself failed.
   */
  async run(command: string[], timeoutMs: number): Promise<ExecResult> {
    const r = await runSsh({ kind: "command", command }, this.ctx, { timeoutMs });
    let failure: SshFailure | null = null;
    if (r.timedOut) {
      failure = failureOf(r);
    } else if (r.code === 255) {
      const f = classifySshStderr(r.stderr);
      // With a dead socket ssh falls back to a direct connection, which our
      // ProxyCommand=false turns into this message: the master is gone.
      if (f.kind === "unreachable" && /kex_exchange_identification/.test(r.stderr)) {
        failure = { kind: "master-gone", message: f.message, hint: "the SSH ControlMaster is not running; rdhpf reconnects by itself" };
      } else if (f.kind !== "unknown") {
        failure = f;
      }
    }
    return { ...r, failure };
  }

  /** Starts a long-lived remote command (e.g. `docker system dial-stdio`) with stdin/stdout as pipes. */
  spawn(command: string[]): ChildProcess {
    return spawnSsh({ kind: "command", command }, this.ctx, { stdin: "pipe", stdout: "pipe" });
  }
}

/** A refusal from the master (MUX_S_FAILURE or MUX_S_PERMISSION_DENIED), as an SshFailure. */
function replyFailure(reply: MuxMessage): SshFailure {
  if (reply.type === "failure") return refusedRequestFailure(reply.reason);
  if (reply.type === "permission-denied") return refusedRequestFailure(`the master refused: ${reply.reason}`);
  return refusedRequestFailure(`unexpected answer ${reply.type}`);
}

/**
 * What the master printed since a mark, read once and again only while a
 * forward's lines are missing. A master writing to a file has written its
 * line before it answers; one writing to a pipe (no stderr file) may reach
 * rdhpf a moment after the answer.
 */
class MasterText {
  private text: string | null = null;
  constructor(private readonly masterLog: MasterLog | null, private readonly mark: number) {}

  async linesFor(pick: (text: string) => string): Promise<string> {
    if (!this.masterLog) return "";
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.text === null || attempt > 0) this.text = this.masterLog.since(this.mark);
      const lines = pick(this.text);
      if (lines) return lines;
      await sleep(5);
    }
    return "";
  }
}
