/**
 * The one SSH connection: an OpenSSH ControlMaster that rdhpf starts as its
 * own child, or adopts from the rdhpf that ran before it (`SshMaster.adopt`),
 * and ends itself. Everything else goes through its socket (mux.ts).
 *
 * An adopted master is not our child: no exit event tells of its end, so a
 * cheap poll (kill -0 and the zombie check of src/process, every second)
 * does, and its end takes the same path as a spawned master's. With a
 * `stderrFile` the master writes to that file (master_stderr.ts), which the
 * adopting rdhpf reads the same way as the one that started it.
 *
 * Measured with OpenSSH 9.2:
 * - The control socket appears once the connection is authenticated; then
 *   `-O check` answers in about 5 ms, and the mux protocol's own alive check
 *   (mux_probe.ts, no process) in about 1 ms.
 * - `-O exit` and SIGTERM end the master with its socket removed (exit 0);
 *   SIGKILL leaves a stale socket file behind, which `start()` clears.
 * - A master started on a path where a socket file already exists logs in
 *   anyway and prints "ControlSocket ... already exists, disabling
 *   multiplexing": a connection nothing can use. `start()` therefore clears
 *   the path first and kills such a master at once.
 *
 * Over 300 lines as one concept: the life of the one ControlMaster process.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, lstatSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { getLogger } from "@logtape/logtape";
import { RdhpfError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { isAlive, isRunning, signalPid, terminate, terminateChild, waitForExit } from "../process/mod.ts";
import type { SshContext } from "./argv.ts";
import { classifySshStderr, SshConnectError, type SshErrorKind } from "./errors.ts";
import { MasterStderrFile } from "./master_stderr.ts";
import { runSsh, spawnSsh } from "./process.ts";
import { MUX_PROBE_TIMEOUT_MS, probeMaster } from "./mux_probe.ts";

const log = getLogger(["rdhpf", "ssh"]);

export { SshConnectError };

/** How the master ended. */
export interface MasterExitInfo {
  code: number | null;
  signal: string | null;
  /** The last few KB of the master's stderr: for classification, never for raw logging. */
  stderr: string;
  kind: SshErrorKind;
  /** ssh's meaningful line, escaped. */
  message: string;
  hint: string | null;
  /** True when `stop()` ended it. */
  expected: boolean;
}

/** Read access to what the master printed, for matching a mux failure to its cause. */
export interface MasterLog {
  /** Position after everything printed so far. */
  cursor(): number;
  /** What was printed after `cursor` (as much as the buffer still holds). */
  since(cursor: number): string;
}

/** What the master printed: a pipe's tail kept in memory, or its stderr file. */
interface StderrSource {
  all(): string;
  cursor(): number;
  since(cursor: number): string;
}

/** Keeps the last `capacity` characters of a stream and counts everything seen. */
class StderrTail implements StderrSource {
  private text = "";
  private total = 0;
  constructor(private readonly capacity: number) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.capacity);
    this.total += chunk.length;
  }
  all(): string {
    return this.text;
  }
  cursor(): number {
    return this.total;
  }
  since(cursor: number): string {
    const back = this.total - cursor;
    return back <= 0 ? "" : this.text.slice(-Math.min(back, this.text.length));
  }
}

/** The master's stderr file seen as a StderrSource. */
class StderrFileSource implements StderrSource {
  constructor(readonly file: MasterStderrFile, private readonly capacity: number) {}
  all(): string {
    return this.file.tail(this.capacity);
  }
  cursor(): number {
    return this.file.cursor();
  }
  since(cursor: number): string {
    return this.file.since(cursor);
  }
}

/** How often an adopted master is checked for life (kill -0 and zombie check: microseconds). */
export const ADOPTED_POLL_MS = 1000;

/** Options of `SshMaster`. */
export interface SshMasterOptions {
  /** How long `start()` waits for the socket to answer. Default 15 000 ms. */
  readyTimeoutMs?: number;
  /** Size of the stderr ring buffer (and of the tail read from `stderrFile`). Default 8 KiB. */
  stderrBufferChars?: number;
  /**
   * Where the master writes its stderr (rotated at each start, size-capped);
   * without it, a pipe to this process (fine for a master that never
   * outlives it, like the doctor's).
   */
  stderrFile?: string;
}

/** The ControlMaster process for one remote host. */
export class SshMaster implements MasterLog {
  private readonly readyTimeoutMs: number;
  private readonly stderrBufferChars: number;
  private child: ChildProcess | null = null;
  private tail: StderrSource;
  private stderrFile: MasterStderrFile | null = null;
  /** Set for an adopted master: its pid, polled for life. */
  private adoptedPid: number | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private exitListeners: Array<(info: MasterExitInfo) => void> = [];
  private exited: Promise<MasterExitInfo> | null = null;
  private stopRequested = false;
  private ownsSocket = false;
  private running = false;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private _pid: number | null = null;
  private _startedAt: Date | null = null;

  private readonly stderrPath: string | null;

  constructor(readonly ctx: SshContext, opts: SshMasterOptions = {}) {
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
    this.stderrBufferChars = opts.stderrBufferChars ?? 8192;
    this.stderrPath = opts.stderrFile ?? null;
    this.tail = new StderrTail(this.stderrBufferChars);
  }

  /**
   * Takes over a master that another rdhpf started and left running (the
   * caller has checked that it is alive, ours and answers `-O check`). No
   * new connection; its end is noticed by polling (see the module comment).
   */
  static adopt(ctx: SshContext, pid: number, opts: SshMasterOptions = {}): SshMaster {
    const master = new SshMaster(ctx, opts);
    if (master.stderrPath) {
      master.stderrFile = MasterStderrFile.attach(master.stderrPath);
      master.tail = new StderrFileSource(master.stderrFile, master.stderrBufferChars);
    }
    master.adoptedPid = pid;
    master._pid = pid;
    master._startedAt = new Date();
    master.running = true;
    master.ownsSocket = true;
    master.stopRequested = false;
    let resolveExit!: (info: MasterExitInfo) => void;
    master.exited = new Promise((resolve) => (resolveExit = resolve));
    master.pollTimer = setInterval(() => {
      master.stderrFile?.enforceCap();
      if (isAlive(pid)) return;
      master.clearPoll();
      const text = master.tail.all();
      resolveExit({ code: null, signal: null, stderr: text, ...classifySshStderr(text), expected: master.stopRequested });
    }, ADOPTED_POLL_MS);
    void master.exited.then((info) => master.onChildExit(info));
    return master;
  }

  /** True for a master taken over from a previous rdhpf. */
  get adopted(): boolean {
    return this.adoptedPid !== null;
  }

  private clearPoll(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  /**
   * Lets go of the master without ending it, for the rdhpf that takes over
   * (hand-over): no more polling, no exit listeners, the socket stays.
   */
  release(): void {
    this.clearPoll();
    this.exitListeners = [];
    this.ownsSocket = false;
    this.child?.unref();
    this.stderrFile?.close();
  }

  /** PID of the running master, else null. */
  get pid(): number | null {
    return this._pid;
  }

  /** When the running master was started, else null. */
  get startedAt(): Date | null {
    return this._startedAt;
  }

  /**
   * Registers a listener for the end of a started master (also after
   * `stop()`, with `expected: true`); called at once from the child's exit.
   * Returns a function that removes the listener.
   */
  onExit(cb: (info: MasterExitInfo) => void): () => void {
    this.exitListeners.push(cb);
    return () => {
      this.exitListeners = this.exitListeners.filter((l) => l !== cb);
    };
  }

  /** @inheritdoc */
  cursor(): number {
    return this.tail.cursor();
  }

  /** @inheritdoc */
  since(cursor: number): string {
    return this.tail.since(cursor);
  }

  /**
   * Starts the master and resolves once `-O check` answers through its
   * socket. Rejects with an `SshConnectError` (exit code 1; the caller decides
   * whether the kind is fatal at first start, see `isConfigurationFailure`).
   * Resolves at once when the master is already running.
   */
  start(): Promise<void> {
    if (this.running && isRunning(this.child)) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.stopping) await this.stopping;
    const socketPath = this.ctx.controlPath;
    if (!existsSync(dirname(socketPath))) {
      throw new RdhpfError(`the directory of the SSH control socket ${socketPath} does not exist`, "rdhpf creates its runtime dir at start; check RDHPF_STATE_DIR", 1);
    }
    await this.clearStaleSocket();

    this.stopRequested = false;
    this.ownsSocket = false;
    const startedMs = performance.now();
    let child: ChildProcess;
    let tail: StderrSource;
    if (this.stderrPath) {
      this.stderrFile?.close();
      const file = MasterStderrFile.rotate(this.stderrPath);
      this.stderrFile = file;
      tail = new StderrFileSource(file, this.stderrBufferChars);
      // The child gets its own copy of the descriptor; ours stays open for reading.
      child = spawnSsh({ kind: "master" }, this.ctx, { stdout: "ignore", stderr: file.fd });
    } else {
      const pipeTail = new StderrTail(this.stderrBufferChars);
      tail = pipeTail;
      child = spawnSsh({ kind: "master" }, this.ctx, { stdout: "ignore" });
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (chunk: string) => {
        pipeTail.push(chunk);
        if (chunk.includes("disabling multiplexing")) signalPid(child.pid, "SIGKILL");
      });
    }
    this.tail = tail;
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on("error", (err) => {
        // spawn failed (no ssh binary): no 'exit' follows.
        resolve({ code: null, signal: null, stderr: "", kind: "unknown", message: String(err), hint: null, expected: false });
      });
      child.on("exit", (code, signal) => {
        const failure = classifySshStderr(tail.all());
        resolve({ code, signal, stderr: tail.all(), ...failure, expected: this.stopRequested });
      });
    });
    const exited = this.exited;
    let spawnError: Error | null = null;
    child.on("error", (err) => {
      spawnError = err;
    });

    const deadline = performance.now() + this.readyTimeoutMs;
    let settledExit: MasterExitInfo | null = null;
    void exited.then((info) => {
      settledExit = info;
    });
    for (;;) {
      if (spawnError) {
        throw new RdhpfError(`cannot run the ssh client ${JSON.stringify(this.ctx.sshBinary)}`, "install OpenSSH's client and make sure it is on PATH", 2, { cause: spawnError });
      }
      if (settledExit) throw this.connectError(settledExit);
      // With a stderr file no data event tells; the file is read here instead.
      if (this.stderrFile && tail.all().includes("disabling multiplexing")) signalPid(child.pid, "SIGKILL");
      if (performance.now() > deadline) {
        signalPid(child.pid, "SIGKILL");
        const info = await exited;
        const failure = info.kind === "unknown" ? null : info;
        throw new SshConnectError(
          failure?.kind ?? "timeout",
          `SSH connection to ${this.ctx.target.raw} was not ready within ${this.readyTimeoutMs} ms${failure ? `: ${failure.message}` : ""}`,
          failure?.hint ?? "check that the host answers SSH in time (ssh -o BatchMode=yes TARGET true)",
        );
      }
      if (existsSync(socketPath) && (await this.check())) break;
      // Cheap to poll often: a stat, and once the socket exists an alive
      // check over it (mux_probe.ts, ~1 ms), no process.
      await sleep(5);
    }

    this.ownsSocket = true;
    this.running = true;
    // With `StrictHostKeyChecking accept-new` in the user's ssh config, ssh adds
    // an unknown host key on its own. That is the user's choice, but it must
    // never happen silently: the stderr line itself is noise we do not copy.
    const added = /Warning: Permanently added (\S+) \((\S+)\)/.exec(tail.all());
    if (added) {
      log.warn("ssh added a host key that was not in known_hosts (StrictHostKeyChecking accept-new); verify its fingerprint", {
        host: added[1], keyType: added[2], hint: `compare with the fingerprint on the server: ssh-keygen -lF ${added[1]}`,
      });
    }
    this._pid = child.pid ?? null;
    this._startedAt = new Date();
    log.debug("SSH ControlMaster started", { pid: this._pid, startupMs: Math.round(performance.now() - startedMs) });
    void exited.then((info) => this.onChildExit(info));
  }

  private connectError(info: MasterExitInfo): SshConnectError {
    const detail = info.message || `ssh exited with ${info.signal ? `signal ${info.signal}` : `code ${info.code}`} without a message`;
    return new SshConnectError(info.kind, `SSH connection to ${this.ctx.target.raw} failed: ${detail}`, info.hint);
  }

  private onChildExit(info: MasterExitInfo): void {
    this.clearPoll();
    this.adoptedPid = null;
    this.running = false;
    this._pid = null;
    this._startedAt = null;
    this.child = null;
    if (this.ownsSocket) {
      rmSync(this.ctx.controlPath, { force: true });
      this.ownsSocket = false;
    }
    const fields = { code: info.code, signal: info.signal, kind: info.kind, sshMessage: info.message, expected: info.expected };
    log.debug("SSH ControlMaster exited", fields);
    for (const cb of [...this.exitListeners]) {
      try {
        cb(info);
      } catch (err) {
        log.error("SSH master exit listener failed", { error: String(err) });
      }
    }
  }

  /** Removes a control socket that no live master answers on; refuses to touch a live one. */
  private async clearStaleSocket(): Promise<void> {
    const path = this.ctx.controlPath;
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    if (isSocket) {
      const r = await probeMaster(path);
      if (r.alive) {
        const pid = r.pid;
        throw new SshConnectError(
          "control-socket-in-use",
          `another SSH master${pid ? ` (pid ${pid})` : ""} already serves the control socket ${path}`,
          "another rdhpf for this host may be running (rdhpf status); end it first",
        );
      }
    }
    log.debug("Removing stale SSH control socket", { path });
    rmSync(path, { force: true });
  }

  /**
   * True when the master answers an alive check on its control socket,
   * spoken directly in the mux protocol (mux_probe.ts): no ssh process is
   * started, which keeps the 15 s health check free of forks. A master that
   * does not answer within `timeoutMs` counts as dead.
   */
  async check(timeoutMs = MUX_PROBE_TIMEOUT_MS): Promise<boolean> {
    return (await probeMaster(this.ctx.controlPath, timeoutMs)).alive;
  }

  /**
   * Ends the master: `-O exit`, then SIGTERM and SIGKILL by pid if it is
   * still alive after ~1 s; removes the socket file. Idempotent.
   */
  /**
   * Sends SIGTERM to the ssh child at once, whether it is running or still
   * connecting, without waiting: for a process that is about to exit on a
   * signal and must not leave a connection behind (`stop()` first waits for
   * a start in progress, up to its timeout).
   */
  terminateNow(): void {
    if (isRunning(this.child)) signalPid(this.child.pid, "SIGTERM");
    else if (this.adoptedPid !== null && isAlive(this.adoptedPid)) signalPid(this.adoptedPid, "SIGTERM");
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => {});
    if (this.adoptedPid !== null) return this.stopAdopted(this.adoptedPid);
    const child = this.child;
    const exited = this.exited;
    if (!isRunning(child) || exited === null) return;
    this.stopRequested = true;
    const waitExit = (ms: number) => Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
    if (this.running) await runSsh({ kind: "exit" }, this.ctx, { timeoutMs: 2000 });
    if (!(await waitExit(1000))) await terminateChild(child, 500, 2000);
    // The exit handler removes the socket; this covers a master that died
    // before it was ready.
    if (this.ownsSocket) rmSync(this.ctx.controlPath, { force: true });
  }

  /** `stop()` for an adopted master: `-O exit`, then SIGTERM/SIGKILL by pid; the poll reports its end. */
  private async stopAdopted(pid: number): Promise<void> {
    this.stopRequested = true;
    await runSsh({ kind: "exit" }, this.ctx, { timeoutMs: 2000 });
    if (!(await waitForExit(pid, 1000))) await terminate(pid, 500);
    // Report the end now rather than at the next poll.
    if (this.adoptedPid === pid) {
      this.clearPoll();
      const text = this.tail.all();
      this.onChildExit({ code: null, signal: null, stderr: text, ...classifySshStderr(text), expected: true });
    }
    rmSync(this.ctx.controlPath, { force: true });
  }
}
