/**
 * The daemon's lifecycle, and the one place its parts are wired together:
 * one SSH master at a time (this file), the Docker link and its event stream
 * through it (docker_watch.ts), and level-triggered reconciles of the
 * forwards (reconciler.ts), whose results go to the status (status_store.ts).
 *
 *   connect master ──► open Docker link ──► stream events ──► reconcile
 *        ▲                    ▲ (retry ≤5 s)        │ a container event: that container;
 *        └── backoff 1…30 s ──┴──── master exit ◄───┘ link open, every 30 s, wake: full list
 *            (cut short, and a hanging attempt abandoned,
 *             when the path probe sees the network come back)
 *
 * The first session may take over the master a previous rdhpf left running
 * (EngineOptions.adopt, decided in adoption.ts): no new connection, the
 * recorded forwards taken as held, its end noticed by polling and handled
 * like a spawned master's. `handOver()` is the other side: the run ends
 * leaving master, forwards and state for the next start.
 *
 * Nothing here gives up: every failure after the first successful connection
 * leads back to the top with a backoff. Only a failure that
 * `isConfigurationFailure` (src/ssh/errors.ts) names, at the very first
 * start, ends the process, with exit status 2.
 *
 * The state file has one writer, `publish()` here; the parts report to the
 * StatusStore and call it.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { writeFileAtomic } from "../atomic_file.ts";
import { connects } from "../connects.ts";
import { RdhpfError } from "../errors.ts";
import { type ActiveForward, type BackendResult, findPortOwner, ForwardApplier, type ForwardBackend } from "../forward/mod.ts";
import type { InstancePaths } from "../paths.ts";
import { isConfigurationFailure, type LocalForward, Mux, SshConnectError, type SshContext, type SshErrorKind, SshMaster } from "../ssh/mod.ts";
import type { DaemonState, StatusDocument } from "../status/mod.ts";
import { sleep } from "../sleep.ts";
import { Coalescer } from "./coalescer.ts";
import type { DockerSocketServer } from "./docker_socket.ts";
import { DockerWatch } from "./docker_watch.ts";
import type { InstanceLock } from "./lock.ts";
import { monotonicNowMs } from "./monotonic_clock.ts";
import { type ReconcileTrigger, Reconciler, type ReconcilerOptions } from "./reconciler.ts";
import { REPLACE_AT_ONCE_AFTER_MS, type ReconnectCause, reconnectPlan } from "./reconnect_plan.ts";
import { ROUTE_PROBE_INTERVAL_MS, ROUTE_PROBE_TIMEOUT_MS, RouteWatch } from "./route_watch.ts";
import { startSessionTimers } from "./session_timers.ts";
import { forwardsSettled, type HoldOutcome, runStartHold } from "./start_hold.ts";
import { type DockerSocketCounts, StatusStore } from "./status_store.ts";

const log = getLogger(["rdhpf", "engine"]);

export interface EngineOptions extends ReconcilerOptions {
  /** The target as the user wrote it, for logs and status. */
  host: string;
  /** What `ssh -G` made of it, for the status. */
  resolved?: StatusDocument["resolved"];
  ssh: SshContext;
  paths: InstancePaths;
  lock: InstanceLock;
  version: string;
  /** Build commit and the log's byte count, shown in the status (and so in the metrics). */
  build?: { commit: string; logBytesWritten: () => number };
  resyncIntervalMs?: number;
  healthIntervalMs?: number;
  /**
   * Where ssh dials when it connects directly (no ProxyJump/ProxyCommand):
   * probed during a reconnect's backoff to start it as soon as the network
   * path is back. null: wait out the backoff.
   */
  routeProbe?: { host: string; port: number } | null;
  /** rdhpf's Docker socket for the user's tools (docker_socket.ts), served across reconnects; null when turned off. */
  dockerSocket?: DockerSocketServer | null;
  /** A live master of a previous run to take over in the first session, with the forwards it holds. */
  adopt?: { masterPid: number; forwards: ActiveForward[] } | null;
  /** Most dial-stdio bridges (remote SSH sessions) at once; default DEFAULT_MAX_BRIDGES (docker/relay.ts). */
  maxDockerSessions?: number;
  /** Hold start responses on that socket until the container's forwards are ready (start_hold.ts); default true. */
  startHold?: boolean;
}

/** Pause between two tries of one start hold whose container did not settle. */
const START_HOLD_RETRY_MS = 50;

/** Milliseconds to one decimal, for log lines. */
const round1 = (ms: number) => Math.round(ms * 10) / 10;

/** `work`'s value, or "late" when `deadline` (epoch ms) comes first. */
async function beforeDeadline<T>(work: Promise<T>, deadline: number): Promise<T | "late"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Deadline of the one TCP probe after a lost session (does the path answer?).
 * A healthy path answers in about a millisecond; a silent one costs this
 * much before the backoff, which then applies anyway.
 */
const PATH_CHECK_TIMEOUT_MS = 300;

class SessionEnded extends Error {}
/** An ssh attempt given up because the path came back while it hung on the dead one. */
class PathBack extends Error {}

export class Engine {
  private readonly store: StatusStore;
  private readonly applier: ForwardApplier;
  private readonly reconciles: Coalescer<ReconcileTrigger>;
  private readonly docker: DockerWatch;
  private readonly reconciler: Reconciler;
  private master: SshMaster | null = null;
  private readonly mux: Mux;
  private everConnected = false;
  private readonly resyncIntervalMs: number;
  private readonly healthIntervalMs: number;
  /** See EngineOptions.routeProbe. */
  private readonly route: RouteWatch | null;
  /** See EngineOptions.adopt; taken by the first session. */
  private adoptable: EngineOptions["adopt"];
  /** Set by handOver(): the session ends without touching master or forwards. */
  private handingOver = false;
  /** The forwards held when the last session was lost: opened again as soon as the next master is ready. */
  private heldWhenLost: ActiveForward[] = [];
  /** The state file's text as last written, so that an unchanged document is not written again. */
  private published: string | null = null;
  /** That re-opening, awaited by every reconcile so that none plans against a half-restored set. */
  private restoring: Promise<void> = Promise.resolve();

  constructor(private readonly opts: EngineOptions) {
    const probe = opts.routeProbe;
    this.route = probe ? new RouteWatch(() => connects({ host: probe.host, port: probe.port }, ROUTE_PROBE_TIMEOUT_MS)) : null;
    this.store = new StatusStore(opts.host, process.pid, opts.version, opts.resolved ?? null, opts.build, opts.dockerSocket?.path ?? null);
    this.mux = new Mux(opts.ssh);
    this.applier = new ForwardApplier(this.muxBackend(), opts.bindAddresses, findPortOwner);
    const publish = () => this.publish();
    const reconciler = new Reconciler(opts, this.applier, this.store, (trigger) => this.reconciles.request(trigger), publish);
    this.reconciler = reconciler;
    this.docker = new DockerWatch(this.mux, opts.paths, this.store, (trigger) => this.reconciles.request(trigger), publish, (socketPath) => opts.dockerSocket?.setUpstream(socketPath), opts.maxDockerSessions);
    this.reconciles = new Coalescer(async (triggers) => {
      await this.restoring;
      const link = this.docker.current;
      if (link && this.master) await reconciler.reconcile(link, triggers);
    }, (err) => {
      log.warn("Reconcile failed; the next event or resync retries it", { error: (err as Error).message });
    });
    this.adoptable = opts.adopt ?? null;
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 30_000;
    this.healthIntervalMs = opts.healthIntervalMs ?? 30_000;
    const startHold = opts.startHold ?? true;
    this.store.startHoldEnabled(Boolean(opts.dockerSocket) && startHold);
    if (startHold) opts.dockerSocket?.setStartHold((ref) => runStartHold(ref, (r, ms) => this.awaitContainerForwards(r, ms), this.store));
  }

  /**
   * Reconciles now for the container `ref` (name, short or full id) and
   * waits until its published TCP forwards are active or settled otherwise,
   * at most `deadlineMs`. Used by the start hold; never rejects.
   *
   * One inspect per try, shared with the start event's look-up when they
   * overlap (inspect_flights.ts): its answer goes to the reconcile with the
   * trigger (no second look-up; observed_store.ts says when it counts), the
   * reconcile starts without the coalescing wait, and the hold looks again
   * each time a reconcile has applied its plan, not on a timer.
   */
  async awaitContainerForwards(ref: string, deadlineMs: number): Promise<HoldOutcome> {
    const askedMs = monotonicNowMs();
    const deadline = askedMs + deadlineMs;
    const started = performance.now();
    let inspectMs = 0;
    let tries = 0;
    try {
      while (Date.now() < deadline) {
        const link = this.docker.current;
        if (!link || !this.master) return { outcome: "error", reason: "no Docker link (the SSH connection is being re-established)" };
        const inspectStarted = performance.now();
        // An inspect sent after the start was answered (the start event's look-up) shows what the hold needs: joined.
        const flight = this.reconciler.inspects.inspect(link.client, ref, tries === 0 ? askedMs : monotonicNowMs());
        const sentMs = flight.sentMs;
        const inspected = await beforeDeadline(flight.answer, deadline);
        inspectMs += performance.now() - inspectStarted;
        if (inspected === "late") return { outcome: "timeout", reason: `inspecting the container took over ${deadlineMs} ms` };
        if (!inspected || !inspected.ports.some((p) => p.protocol === "tcp")) return { outcome: "nothing-to-wait-for" };
        tries++;
        const settled = () => forwardsSettled(inspected.id, this.reconciler.lastDesired, this.applier.active, this.applier.blocked);
        // Asked for before our run, so a run already under way (the start event's) that settles it wakes us too.
        let applied = this.reconciler.nextApply().then(() => "applied" as const);
        const trigger: ReconcileTrigger = { kind: "event", id: inspected.id, effect: "inspected", container: inspected, atMs: sentMs };
        const ours = this.reconciles.requestAndWait(trigger, { now: true }).then(() => "done" as const);
        for (let runEnded = false; ;) {
          if (settled()) {
            const t = this.reconciler.lastTimings;
            log.debug("Start hold: forwards ready", {
              container: inspected.id.slice(0, 12), held_ms: round1(performance.now() - started), inspect_ms: round1(inspectMs), tries,
              last_reconcile_observe_ms: round1(t.observeMs), last_reconcile_apply_ms: round1(t.applyMs), since_apply_ms: round1(performance.now() - t.endedAt),
            });
            return { outcome: "ready", containerId: inspected.id };
          }
          if (runEnded) break;
          const step = await beforeDeadline(Promise.race([ours, applied]), deadline);
          if (step === "late") return { outcome: "timeout", reason: `forwards not ready within ${deadlineMs} ms` };
          if (step === "done") runEnded = true;
          else applied = this.reconciler.nextApply().then(() => "applied" as const);
        }
        // Our run ended without settling it (it failed, or newer news of the container came first): look again, shortly.
        await sleep(Math.max(0, Math.min(START_HOLD_RETRY_MS, deadline - Date.now())));
      }
      return { outcome: "timeout", reason: `forwards not ready within ${deadlineMs} ms` };
    } catch (err) {
      return { outcome: "error", reason: (err as Error).message };
    }
  }

  /** The status document as of now. */
  status(): StatusDocument {
    return this.store.document({
      active: this.applier.active.values(), blocked: this.applier.blocked.values(),
      history: this.applier.history, bindAddresses: this.opts.bindAddresses,
      dockerSocket: this.dockerSocketCounts(),
    });
  }

  /** The Docker socket's figures: its clients, and on the dial-stdio path the sessions they share with rdhpf's own requests. */
  private dockerSocketCounts(): DockerSocketCounts | null {
    const socket = this.opts.dockerSocket;
    if (!socket) return null;
    const link = this.docker.current;
    const sessions = link?.sessions?.() ?? null;
    return {
      path: socket.path, connections: socket.connections(), accepted: socket.accepted(),
      sessions: sessions?.active ?? null, queued: sessions?.queued ?? 0,
      limit: link === null ? null : link.transport === "dial-stdio" ? sessions?.limit ?? null : null,
    };
  }

  /**
   * Writes the status document to the state file: its only writer; only when
   * it changed (its `updated_at` then moves on). `quiet`: a failure is not
   * worth a line.
   */
  private publish(quiet = false): void {
    if (JSON.stringify(this.status()) === this.published) return;
    this.store.touch();
    const text = JSON.stringify(this.status());
    try {
      writeFileAtomic(this.opts.paths.stateFile, text);
      this.published = text;
    } catch (err) {
      if (!quiet) log.warn("Could not write the state file", { path: this.opts.paths.stateFile, error: (err as Error).message });
    }
  }

  private setState(state: DaemonState, error?: string | null): void {
    this.store.enter(state, error);
    this.publish();
  }

  /**
   * Runs until `signal` aborts, and leaves the state file saying "stopping".
   * Throws RdhpfError (exit 2) for a configuration error at first start.
   */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.supervise(signal);
    } finally {
      this.store.enter("stopping");
      // The runtime dir may be gone at shutdown; there is nothing to keep then.
      this.publish(true);
    }
  }

  /**
   * Makes the run (ended by aborting its signal right after) leave the master
   * and its forwards running, and the state file and lock naming them, for
   * the next start to adopt (SIGUSR2).
   */
  handOver(): void {
    this.handingOver = true;
    this.opts.lock.handOver();
  }

  private async supervise(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let watchPath = false;
    while (!signal.aborted) {
      let cause: ReconnectCause = { why: "attempt-failed", kind: null };
      try {
        const ended = await this.session(signal, attempt + 1, watchPath, () => { attempt = 0; });
        // Probed only where it decides something: the first loss of a streak, after a session that lived.
        const probePath = attempt === 0 && ended.livedMs >= REPLACE_AT_ONCE_AFTER_MS && !signal.aborted;
        cause = { why: "session-lost", kind: ended.kind, livedMs: ended.livedMs, pathAnswers: probePath ? await this.pathAnswers() : null };
      } catch (err) {
        if (err instanceof PathBack) {
          cause = { why: "path-back" };
        } else {
          const kind = err instanceof SshConnectError ? err.kind : null;
          cause = { why: "attempt-failed", kind };
          if (!this.everConnected && err instanceof SshConnectError && isConfigurationFailure(err.kind)) {
            throw new RdhpfError(err.message, err.hint, 2, { cause: err });
          }
          if (!signal.aborted) {
            this.store.connectFailed();
            log.warn("SSH connection failed; will retry", { kind: kind ?? "other", error: (err as Error).message });
          }
        }
      } finally {
        await this.endSession(signal.aborted ? "rdhpf shutdown" : "connection lost");
      }
      if (signal.aborted) break;
      const plan = reconnectPlan(cause, attempt);
      if (cause.why !== "path-back") attempt++;
      watchPath = plan.watchPath && this.route !== null;
      this.setState("reconnecting");
      log.info("Reconnecting", { in_ms: plan.delayMs, attempt });
      await this.waitBeforeRetry(plan.delayMs, watchPath, signal);
    }
  }

  /** Whether the host's SSH port accepts a TCP connection now; null when ssh does not dial it directly. */
  private async pathAnswers(): Promise<boolean | null> {
    const probe = this.opts.routeProbe;
    return probe ? await connects({ host: probe.host, port: probe.port }, PATH_CHECK_TIMEOUT_MS) : null;
  }

  /** The backoff delay, cut short when the network path to a directly dialled host comes back. */
  private async waitBeforeRetry(delayMs: number, watchPath: boolean, signal: AbortSignal): Promise<void> {
    // Not even a timer tick: a replaced master's handshake starts now.
    if (delayMs <= 0) return;
    if (!this.route || !watchPath || delayMs <= ROUTE_PROBE_INTERVAL_MS) return sleep(delayMs, signal);
    const started = Date.now();
    const outcome = await this.route.wait(delayMs, signal);
    if (outcome === "back") log.info("Network path to the host is back; reconnecting now", { waited_ms: Date.now() - started });
  }

  /**
   * Starts the master; with `watchPath`, probes the path meanwhile. On a
   * silent path ssh's SYN (or its banner) is lost and the attempt hangs until
   * ConnectTimeout, even when the path returns a second later. When the
   * probe sees the path come back, the attempt is ended and PathBack thrown:
   * the next one starts at once on the working path.
   */
  private async startMaster(master: SshMaster, watchPath: boolean, signal: AbortSignal): Promise<void> {
    const route = this.route;
    if (!route || !watchPath) return master.start();
    const watchAbort = new AbortController();
    const stopWatch = () => watchAbort.abort();
    signal.addEventListener("abort", stopWatch, { once: true });
    const started = master.start();
    const pathBack = route.wait(Number.POSITIVE_INFINITY, watchAbort.signal, "in-this-wait").then((o) => o === "back");
    try {
      const first = await Promise.race([started.then(() => "started" as const), pathBack.then((back) => (back ? "back" as const : "started" as const))]);
      if (first === "started") return await started;
    } finally {
      watchAbort.abort();
      signal.removeEventListener("abort", stopWatch);
    }
    // The race was won by the probe; the attempt may have finished meanwhile.
    if (master.pid !== null) return;
    log.info("Network path to the host is back; abandoning the connection attempt in flight");
    master.terminateNow();
    await started.catch(() => undefined);
    throw new PathBack();
  }

  /**
   * One SSH connection's life. Throws when connecting fails; when an
   * established session ends, returns the kind of the master's failure
   * (e.g. "timeout": its keepalive went unanswered), or null.
   */
  private async session(signal: AbortSignal, attempt: number, watchPath: boolean, onHealthy: () => void): Promise<{ kind: SshErrorKind | null; livedMs: number }> {
    let masterFailure: SshErrorKind | null = null;
    let connectedMs: number | null = null;
    const ended = () => ({ kind: masterFailure, livedMs: connectedMs === null ? 0 : Date.now() - connectedMs });
    const sessionAbort = new AbortController();
    const endSession = (reason: string) => {
      if (!sessionAbort.signal.aborted) {
        log.warn("SSH session ended", { reason });
        sessionAbort.abort(new SessionEnded(reason));
      }
    };
    const onOuterAbort = () => sessionAbort.abort(new SessionEnded("rdhpf shutdown"));
    signal.addEventListener("abort", onOuterAbort, { once: true });

    try {
      this.setState(this.everConnected ? "reconnecting" : "starting");
      log.info("Ensuring SSH ControlMaster is alive before starting event stream", { attempt, host: this.opts.host });
      const connectStarted = Date.now();
      const adopt = this.adoptable;
      this.adoptable = null;
      const masterOptions = { stderrFile: this.opts.paths.masterStderr };
      const master = adopt ? SshMaster.adopt(this.opts.ssh, adopt.masterPid, masterOptions) : new SshMaster(this.opts.ssh, masterOptions);
      this.master = master;
      master.onExit((info) => {
        if (!info.expected) masterFailure = info.kind;
        endSession(`SSH master exited (${info.kind}): ${info.message}`);
      });
      if (adopt) {
        // Counted as added by this daemon, so that added minus removed stays the number active.
        this.applier.assumeHeld(adopt.forwards);
        this.store.forwardsChanged(adopt.forwards.length, 0);
      } else {
        await this.startMaster(master, watchPath, signal);
      }
      this.mux.attachMasterLog(master);
      if (sessionAbort.signal.aborted) return ended();
      connectedMs = Date.now();
      this.opts.lock.setMasterPid(master.pid);
      this.store.connected(master.pid, this.everConnected, !adopt);
      this.everConnected = true;
      this.route?.forget();
      log.info("SSH ControlMaster verified healthy", { master_pid: master.pid, connect_ms: Date.now() - connectStarted });
      if (!adopt) this.restoring = this.restoreHeldForwards();

      const stopTimers = startSessionTimers({
        healthIntervalMs: this.healthIntervalMs, resyncIntervalMs: this.resyncIntervalMs, checkMaster: () => master.check(),
        requestReconcile: () => this.reconciles.request({ kind: "list" }), pingDocker: () => this.docker.current?.client.ping(), endSession, signal: sessionAbort.signal,
      });
      try {
        await this.docker.run(sessionAbort.signal, onHealthy);
      } finally {
        stopTimers();
      }
      return ended();
    } finally {
      signal.removeEventListener("abort", onOuterAbort);
      sessionAbort.abort(new SessionEnded("session over"));
    }
  }

  /** Tears the session down: forwards are gone with the master. On hand-over, leaves both to the next start. */
  private async endSession(reason: string): Promise<void> {
    if (this.handingOver) {
      await this.restoring;
      await this.docker.close();
      // A master still connecting is named nowhere: the next start could not adopt it.
      if (this.master?.pid === null) this.master.terminateNow();
      this.master?.release();
      this.master = null;
      this.publish();
      return;
    }
    const shutdown = reason === "rdhpf shutdown";
    await this.restoring;
    const ended = shutdown && this.master?.pid ? await this.applier.cancelAll(reason) : this.applier.dropAll(reason);
    if (!shutdown && ended.length > 0) this.heldWhenLost = ended.map(({ endedAtMs: _at, endReason: _why, ...held }) => held);
    this.store.forwardsChanged(0, ended.length);
    this.store.containersUnknown();
    await this.docker.close();
    const master = this.master;
    this.master = null;
    if (master) await master.stop().catch(() => undefined);
    this.opts.lock.setMasterPid(null);
    rmSync(this.opts.paths.dockerSocket, { force: true });
    this.store.disconnected();
    this.publish();
  }

  /**
   * Opens the forwards of the lost session again through the new master, at
   * once: the Docker link and its first list take another 60-130 ms (see
   * docs/performance.md), and the containers behind them are most likely
   * still there. The reconcile after that list removes what is gone.
   */
  private async restoreHeldForwards(): Promise<void> {
    const held = this.heldWhenLost;
    this.heldWhenLost = [];
    if (held.length === 0) return;
    const started = Date.now();
    try {
      const restored = await this.applier.restore(held);
      this.store.forwardsChanged(restored.length, 0);
      this.publish();
      log.info("Forwards of the lost connection opened again; the Docker list confirms them next", { restored: restored.length, held: held.length, duration_ms: Date.now() - started });
    } catch (err) {
      log.warn("Could not open the forwards of the lost connection again; the first reconcile does", { error: (err as Error).message });
    }
  }

  /** Applies forward specs through the master's socket. */
  private muxBackend(): ForwardBackend {
    const mux = () => this.mux;
    return {
      add: (specs: LocalForward[]): Promise<BackendResult> => mux().forward(specs),
      cancel: (specs: LocalForward[]): Promise<BackendResult> => mux().cancel(specs),
    };
  }
}
