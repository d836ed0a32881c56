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
import { type BackendResult, findPortOwner, ForwardApplier, type ForwardBackend } from "../forward/mod.ts";
import type { InstancePaths } from "../paths.ts";
import { isConfigurationFailure, type LocalForward, Mux, SshConnectError, type SshContext, type SshErrorKind, SshMaster } from "../ssh/mod.ts";
import type { DaemonState, StatusDocument } from "../status/mod.ts";
import { sleep } from "../sleep.ts";
import { Coalescer } from "./coalescer.ts";
import type { DockerSocketServer } from "./docker_socket.ts";
import { DockerWatch } from "./docker_watch.ts";
import type { InstanceLock } from "./lock.ts";
import { type ReconcileTrigger, Reconciler, type ReconcilerOptions } from "./reconciler.ts";
import { type ReconnectCause, reconnectPlan } from "./reconnect_plan.ts";
import { ROUTE_PROBE_INTERVAL_MS, ROUTE_PROBE_TIMEOUT_MS, RouteWatch } from "./route_watch.ts";
import { startSessionTimers } from "./session_timers.ts";
import { StatusStore } from "./status_store.ts";

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
}

class SessionEnded extends Error {}
/** An ssh attempt given up because the path came back while it hung on the dead one. */
class PathBack extends Error {}

export class Engine {
  private readonly store: StatusStore;
  private readonly applier: ForwardApplier;
  private readonly reconciles: Coalescer<ReconcileTrigger>;
  private readonly docker: DockerWatch;
  private master: SshMaster | null = null;
  private readonly mux: Mux;
  private everConnected = false;
  private readonly resyncIntervalMs: number;
  private readonly healthIntervalMs: number;
  /** See EngineOptions.routeProbe. */
  private readonly route: RouteWatch | null;

  constructor(private readonly opts: EngineOptions) {
    const probe = opts.routeProbe;
    this.route = probe ? new RouteWatch(() => connects({ host: probe.host, port: probe.port }, ROUTE_PROBE_TIMEOUT_MS)) : null;
    this.store = new StatusStore(opts.host, process.pid, opts.version, opts.resolved ?? null, opts.build, opts.dockerSocket?.path ?? null);
    this.mux = new Mux(opts.ssh);
    this.applier = new ForwardApplier(this.muxBackend(), opts.bindAddresses, findPortOwner);
    const publish = () => this.publish();
    const reconciler = new Reconciler(opts, this.applier, this.store, () => this.reconciles.request(), publish);
    this.docker = new DockerWatch(this.mux, opts.paths, this.store, (trigger) => this.reconciles.request(trigger), publish, (socketPath) => opts.dockerSocket?.setUpstream(socketPath));
    this.reconciles = new Coalescer(async (triggers) => {
      const link = this.docker.current;
      if (link && this.master) await reconciler.reconcile(link, triggers);
    }, (err) => {
      log.warn("Reconcile failed; the next event or resync retries it", { error: (err as Error).message });
    });
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 30_000;
    this.healthIntervalMs = opts.healthIntervalMs ?? 15_000;
  }

  /** The status document as of now. */
  status(): StatusDocument {
    return this.store.document({
      active: this.applier.active.values(), blocked: this.applier.blocked.values(),
      history: this.applier.history, bindAddresses: this.opts.bindAddresses,
    });
  }

  /** Writes the status document to the state file: its only writer. `quiet`: a failure is not worth a line. */
  private publish(quiet = false): void {
    this.store.touch();
    try {
      writeFileAtomic(this.opts.paths.stateFile, JSON.stringify(this.status()));
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

  private async supervise(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let watchPath = false;
    while (!signal.aborted) {
      let cause: ReconnectCause = { why: "attempt-failed", kind: null };
      try {
        const endedBy = await this.session(signal, attempt + 1, watchPath, () => { attempt = 0; });
        cause = { why: "session-lost", kind: endedBy };
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

  /** The backoff delay, cut short when the network path to a directly dialled host comes back. */
  private async waitBeforeRetry(delayMs: number, watchPath: boolean, signal: AbortSignal): Promise<void> {
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
  private async session(signal: AbortSignal, attempt: number, watchPath: boolean, onHealthy: () => void): Promise<SshErrorKind | null> {
    let masterFailure: SshErrorKind | null = null;
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
      const master = new SshMaster(this.opts.ssh);
      this.master = master;
      master.onExit((info) => {
        if (!info.expected) masterFailure = info.kind;
        endSession(`SSH master exited (${info.kind}): ${info.message}`);
      });
      await this.startMaster(master, watchPath, signal);
      this.mux.attachMasterLog(master);
      if (sessionAbort.signal.aborted) return masterFailure;
      this.opts.lock.setMasterPid(master.pid);
      this.store.connected(master.pid, this.everConnected);
      this.everConnected = true;
      this.route?.forget();
      log.info("SSH ControlMaster verified healthy", { master_pid: master.pid, connect_ms: Date.now() - connectStarted });

      const stopTimers = startSessionTimers({
        healthIntervalMs: this.healthIntervalMs, resyncIntervalMs: this.resyncIntervalMs, checkMaster: () => master.check(),
        requestReconcile: () => this.reconciles.request({ kind: "list" }), pingDocker: () => this.docker.current?.client.ping(), endSession, signal: sessionAbort.signal,
      });
      try {
        await this.docker.run(sessionAbort.signal, onHealthy);
      } finally {
        stopTimers();
      }
      return masterFailure;
    } finally {
      signal.removeEventListener("abort", onOuterAbort);
      sessionAbort.abort(new SessionEnded("session over"));
    }
  }

  /** Tears the session down: forwards are gone with the master. */
  private async endSession(reason: string): Promise<void> {
    const shutdown = reason === "rdhpf shutdown";
    const ended = shutdown && this.master?.pid ? await this.applier.cancelAll(reason) : this.applier.dropAll(reason);
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

  /** Applies forward specs through the master's socket. */
  private muxBackend(): ForwardBackend {
    const mux = () => this.mux;
    return {
      add: (specs: LocalForward[]): Promise<BackendResult> => mux().forward(specs),
      cancel: (specs: LocalForward[]): Promise<BackendResult> => mux().cancel(specs),
    };
  }
}
