/**
 * Operations through the master's socket: adding and cancelling forwards,
 * running rdhpf's fixed remote commands. None of them can open a second
 * connection (see argv.ts).
 *
 * Measured with OpenSSH 9.2 on a 2-core Debian 12 machine, sshd on loopback:
 * - `-O forward` costs ~5 ms with one -L (p50 5.2, max 5.9 over 30 runs) and
 *   ~6.5 ms with 20 -L (p50 6.5, max 14); `-O cancel` the same (5.1 / 6.2 ms).
 *   `-O check` ~5 ms. Batching is cheap; separate calls are not free.
 * - How a failed forward is told apart from the others: forward_outcome.ts.
 * - `-O cancel` always exits 0 (also for a -L the master does not hold); ssh
 *   then prints "forwarding request failed: port not forwarded". A cancel
 *   must repeat the -L exactly (address, both ports, remote host).
 * - Cancelling a unix socket forward leaves the socket file behind, and a
 *   new forward to an existing file fails ("unix_listener: cannot bind to
 *   path ...: Address already in use"): rdhpf removes the file itself.
 * - A remote command through the mux costs the remote login shell (~90 ms
 *   for a plain bash here, 0.5-1.3 s on hosts with heavy shell start-up).
 *
 * Over 300 lines as one concept: every operation through one master's socket.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { lstatSync, rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { connects } from "../connects.ts";
import { sleep } from "../sleep.ts";
import { displaySafe } from "../text_safety.ts";
import { forwardSpec, type LocalForward, type SshContext } from "./argv.ts";
import { classifySshStderr, SshConnectError, type SshErrorKind, type SshFailure } from "./errors.ts";
import type { MasterLog } from "./master.ts";
import {
  chunksOf,
  type FailedForward,
  failedForwardsInMasterLog,
  failureOf,
  type ForwardOutcome,
  isWholesale,
  masterLinesFor,
  type MuxResult,
  probeBind,
  SOLO_RETRIES_PER_CALL,
  SPECS_PER_CALL,
  toMuxResult,
} from "./forward_outcome.ts";
import { probeMaster } from "./mux_probe.ts";
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
  /** Timeout of each mux operation. Default 5000 ms. */
  opTimeoutMs?: number;
  /** Default `SPECS_PER_CALL`. */
  specsPerCall?: number;
  /** Default `SOLO_RETRIES_PER_CALL`. */
  soloRetriesPerCall?: number;
}

/** Mux operations on one master. */
export class Mux {
  private readonly opTimeoutMs: number;
  private readonly specsPerCall: number;
  private readonly soloRetriesPerCall: number;
  private masterLog: MasterLog | null;

  constructor(readonly ctx: SshContext, opts: MuxOptions = {}) {
    this.opTimeoutMs = opts.opTimeoutMs ?? 5000;
    this.specsPerCall = Math.max(1, opts.specsPerCall ?? SPECS_PER_CALL);
    this.soloRetriesPerCall = Math.max(0, opts.soloRetriesPerCall ?? SOLO_RETRIES_PER_CALL);
    this.masterLog = opts.masterLog ?? null;
  }

  /** Points at the stderr of the current master (a new one after each reconnect); null to forget it. */
  attachMasterLog(masterLog: MasterLog | null): void {
    this.masterLog = masterLog;
  }

  /**
   * Adds forwards, at most `SPECS_PER_CALL` per ssh process. When a call
   * fails, the master's own lines name the failed specs; when they do not
   * add up, specs are retried alone, at most `SOLO_RETRIES_PER_CALL` times
   * per `forward()`. Either way the result says which succeeded and why the
   * others failed (see the measurements above).
   */
  async forward(forwards: LocalForward[]): Promise<MuxResult> {
    const startedMs = performance.now();
    if (forwards.length === 0) return { ok: [], failed: [], durationMs: 0, sshRuns: 0 };
    const results: ForwardOutcome[] = [];
    const budget = { soloRetries: this.soloRetriesPerCall };
    let sshRuns = 0;
    let wholesale: SshFailure | null = null;
    for (const chunk of chunksOf(forwards, this.specsPerCall)) {
      if (wholesale) {
        // No master, or it does not answer: the next call would fail alike.
        results.push(...chunk.map((forward) => ({ forward, ok: false, failure: wholesale })));
        continue;
      }
      const r = await this.forwardChunk(chunk, budget);
      sshRuns += r.sshRuns;
      results.push(...r.outcomes);
      wholesale = r.wholesale;
    }
    const result = toMuxResult(results, Math.round(performance.now() - startedMs), sshRuns);
    log.debug("Mux forward", { specs: forwards.length, failed: result.failed.length, durationMs: result.durationMs, sshRuns });
    for (const f of result.failed) {
      log.debug("Mux forward failed", { spec: forwardSpec(f.spec), kind: f.failure.kind, sshMessage: f.failure.message });
    }
    return result;
  }

  /** One `-O forward` call and, when it fails, the attribution of its failures. */
  private async forwardChunk(
    forwards: LocalForward[],
    budget: { soloRetries: number },
  ): Promise<{ outcomes: ForwardOutcome[]; sshRuns: number; wholesale: SshFailure | null }> {
    const batchMark = this.masterLog?.cursor() ?? 0;
    const batch = await runSsh({ kind: "forward", forwards }, this.ctx, { timeoutMs: this.opTimeoutMs });
    let sshRuns = 1;
    if (batch.code === 0) return { outcomes: forwards.map((forward) => ({ forward, ok: true, failure: null })), sshRuns, wholesale: null };
    const batchFailure = failureOf(batch);
    if (isWholesale(batchFailure.kind)) {
      return { outcomes: forwards.map((forward) => ({ forward, ok: false, failure: batchFailure })), sshRuns, wholesale: batchFailure };
    }
    if (forwards.length === 1) {
      return { outcomes: [{ forward: forwards[0]!, ok: false, failure: await this.explain(forwards[0]!, batchFailure, batchMark) }], sshRuns, wholesale: null };
    }
    const attributed = await this.attributeFromMasterLog(forwards, batch.stderr, batchMark);
    if (attributed) return { outcomes: attributed, sshRuns, wholesale: null };

    const outcomes: ForwardOutcome[] = [];
    const unknown: LocalForward[] = [];
    for (const forward of forwards) {
      if (budget.soloRetries <= 0) {
        unknown.push(forward);
        continue;
      }
      budget.soloRetries--;
      const mark = this.masterLog?.cursor() ?? 0;
      const one = await runSsh({ kind: "forward", forwards: [forward] }, this.ctx, { timeoutMs: this.opTimeoutMs });
      sshRuns++;
      if (one.code === 0) {
        outcomes.push({ forward, ok: true, failure: null });
      } else {
        const failure = await this.explain(forward, failureOf(one), mark);
        outcomes.push({ forward, ok: false, failure });
        if (isWholesale(failure.kind)) return { outcomes: [...outcomes, ...forwards.slice(outcomes.length).map((f) => ({ forward: f, ok: false, failure }))], sshRuns, wholesale: failure };
      }
    }
    if (unknown.length > 0) {
      // The batch may have set some of these up; cancel them so that what
      // the master holds matches what rdhpf reports (a cancel of a spec
      // the master does not hold is harmless, see above).
      await runSsh({ kind: "cancel", forwards: unknown }, this.ctx, { timeoutMs: this.opTimeoutMs });
      sshRuns++;
      const failure: SshFailure = {
        kind: "forward-failed",
        message: "",
        hint: `ssh did not say which forwards of a batch of ${forwards.length} failed, and rdhpf retries at most ${this.soloRetriesPerCall} alone per reconcile; the next resync tries again`,
      };
      outcomes.push(...unknown.map((forward) => ({ forward, ok: false, failure })));
      log.warn("Too many failed forwards to retry one by one; the rest waits for the next resync", { specs: unknown.length, soloRetries: this.soloRetriesPerCall });
    }
    return { outcomes, sshRuns, wholesale: null };
  }

  /**
   * Tells which specs of a failed batch failed from the master's own lines
   * ("requested local forward A:P -> H:Q failed", one per failed -L), when
   * their number equals the client's count of failures; null otherwise (the
   * caller then retries spec by spec).
   */
  private async attributeFromMasterLog(forwards: LocalForward[], clientStderr: string, mark: number): Promise<ForwardOutcome[] | null> {
    if (!this.masterLog) return null;
    const failures = (clientStderr.match(/forwarding request failed/g) ?? []).length;
    if (failures === 0) return null;
    for (let attempt = 0; attempt < 4; attempt++) {
      const text = this.masterLog.since(mark);
      const failed = failedForwardsInMasterLog(text, forwards);
      if (failed.size === failures) {
        return forwards.map((forward, i) => {
          if (!failed.has(i)) return { forward, ok: true, failure: null };
          const fromMaster = classifySshStderr(masterLinesFor(text, forward));
          return { forward, ok: false, failure: fromMaster.kind === "unknown" ? classifySshStderr(clientStderr) : fromMaster };
        });
      }
      // See explain(): the master's lines may arrive a moment later.
      await sleep(5);
    }
    return null;
  }

  /**
   * Names the cause of a failed forward: the master's own line about it
   * (printed since `mark`), else a local bind probe, else ssh's client line.
   */
  private async explain(forward: LocalForward, clientFailure: SshFailure, mark: number): Promise<SshFailure> {
    if (isWholesale(clientFailure.kind)) return clientFailure;
    if (this.masterLog) {
      // The master writes its line before it answers the client, but rdhpf
      // may read the master's pipe a moment after the client has exited.
      for (let attempt = 0; attempt < 3; attempt++) {
        const lines = masterLinesFor(this.masterLog.since(mark), forward);
        if (lines) {
          const fromMaster = classifySshStderr(lines);
          if (fromMaster.kind !== "unknown") return fromMaster;
        }
        await sleep(5);
      }
    }
    return (await probeBind(forward)) ?? clientFailure;
  }

  /**
   * Cancels forwards, at most `SPECS_PER_CALL` per ssh process. A spec the
   * master does not hold counts as cancelled (the goal is "not forwarded");
   * only a failure to reach the master fails the specs.
   */
  async cancel(forwards: LocalForward[]): Promise<MuxResult> {
    const startedMs = performance.now();
    if (forwards.length === 0) return { ok: [], failed: [], durationMs: 0, sshRuns: 0 };
    const outcomes: ForwardOutcome[] = [];
    let notForwarded = 0;
    let sshRuns = 0;
    for (const chunk of chunksOf(forwards, this.specsPerCall)) {
      const r = await runSsh({ kind: "cancel", forwards: chunk }, this.ctx, { timeoutMs: this.opTimeoutMs });
      sshRuns++;
      // ssh exits 0 even when some -L was not forwarded; it fails (255) only
      // when it cannot talk to the master or the spec is malformed.
      const failure = r.code === 0 ? null : failureOf(r);
      notForwarded += (r.stderr.match(/port not forwarded/g) ?? []).length;
      outcomes.push(...chunk.map((forward) => ({ forward, ok: failure === null, failure })));
    }
    const result = toMuxResult(outcomes, Math.round(performance.now() - startedMs), sshRuns);
    log.debug("Mux cancel", { specs: forwards.length, notForwarded, failed: result.failed.length, durationMs: result.durationMs, sshRuns });
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
    let exists = false;
    try {
      exists = lstatSync(localPath).isSocket();
    } catch {
      exists = false;
    }
    if (exists && !(await connects({ path: localPath }, 1000))) rmSync(localPath, { force: true });
    const mark = this.masterLog?.cursor() ?? 0;
    const r = await runSsh({ kind: "forward-socket", localPath, remotePath }, this.ctx, { timeoutMs: this.opTimeoutMs });
    const durationMs = Math.round(performance.now() - startedMs);
    if (r.code !== 0) {
      await sleep(5); // see explain()
      const masterLines = (this.masterLog?.since(mark) ?? "").split(/\r?\n/).filter((l) => l.includes(localPath)).join("\n");
      const failure = failureOf(r, masterLines);
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
    const probe = await probeMaster(this.ctx.controlPath, this.opTimeoutMs);
    if (!probe.alive) {
      // The master is gone (often noticed here first: its socket forward
      // breaks the event stream before its exit is reaped): an ssh started
      // to say so would only delay the reconnect (~10-70 ms, measured).
      rmSync(localPath, { force: true });
      throw new SshConnectError("master-gone", `cancelling the forward of ${localPath} failed: ${probe.reason}`, "the SSH ControlMaster is not running; rdhpf reconnects by itself");
    }
    const r = await runSsh({ kind: "cancel-socket", localPath, remotePath }, this.ctx, { timeoutMs: this.opTimeoutMs });
    rmSync(localPath, { force: true });
    if (r.code !== 0) {
      const failure = failureOf(r);
      throw new SshConnectError(failure.kind, `cancelling the forward of ${localPath} failed: ${failure.message || failure.kind}`, failure.hint);
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
