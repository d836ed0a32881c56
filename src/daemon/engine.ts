/**
 * The daemon's lifecycle: one SSH master at a time, the Docker link and its
 * event stream through it, and level-triggered reconciles of the forwards.
 *
 *   connect master ──► open Docker link ──► stream events ──► reconcile
 *        ▲                    ▲ (retry ≤5 s)        │ any container event,
 *        └── backoff 1…30 s ──┴──── master exit ◄───┘ every 30 s, after wake
 *            (cut short, and a hanging attempt abandoned,
 *             when the path probe sees the network come back)
 *
 * Nothing here gives up: every failure after the first successful connection
 * leads back to the top with a backoff. Only a configuration problem at the
 * very first start (unknown host key, auth failure, unreachable host) ends
 * the process, with exit status 2.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { hostPort } from "../address.ts";
import { connects } from "../connects.ts";
import { chooseEndpoint } from "../docker/endpoint_choice.ts";
import { isContainerLifecycleEvent } from "../docker/events.ts";
import type { ObservedContainer } from "../docker/types.ts";
import { RdhpfError } from "../errors.ts";
import { type BackendResult, ForwardApplier, type ForwardBackend } from "../forward/applier.ts";
import { type OnConflict, type Relocation, resolveConflicts } from "../forward/conflict.ts";
import { DEFAULT_MAX_FORWARDS, type DesiredForward, desiredForwards, overCapReason } from "../forward/desired.ts";
import { planForwards } from "../forward/diff.ts";
import { findPortOwner } from "../forward/port_owner.ts";
import { localPortProbe } from "../forward/port_probe.ts";
import type { PortRules } from "../forward/rules.ts";
import type { LocalForward, SshContext } from "../ssh/argv.ts";
import { SshConnectError } from "../ssh/errors.ts";
import { SshMaster } from "../ssh/master.ts";
import { Mux } from "../ssh/mux.ts";
import { displaySafe } from "../text_safety.ts";
import { sleep } from "../sleep.ts";
import { backoffDelayMs } from "./backoff.ts";
import { Coalescer } from "./coalescer.ts";
import { type DockerLink, discoverEndpoint, endpointToOpen, openDockerLink, readCachedEndpoint } from "./docker_link.ts";
import type { InstanceLock } from "./lock.ts";
import type { InstancePaths } from "../paths.ts";
import { type ReconnectCause, reconnectPlan } from "./reconnect_plan.ts";
import { ROUTE_PROBE_INTERVAL_MS, ROUTE_PROBE_TIMEOUT_MS, RouteWatch } from "./route_watch.ts";
import { writeFileAtomic } from "../atomic_file.ts";
import { StatusStore } from "./status_store.ts";

const log = getLogger(["rdhpf", "engine"]);

export interface EngineOptions {
  /** The target as the user wrote it, for logs and status. */
  host: string;
  ssh: SshContext;
  paths: InstancePaths;
  rules: PortRules;
  /** What to do when a wanted local port is taken (default "wait"). */
  onConflict?: OnConflict;
  /** Most forwards for this host (--max-forwards); default DEFAULT_MAX_FORWARDS. */
  maxForwards?: number;
  bindAddresses: string[];
  lock: InstanceLock;
  version: string;
  resyncIntervalMs?: number;
  healthIntervalMs?: number;
  /**
   * Where ssh dials when it connects directly (no ProxyJump/ProxyCommand):
   * probed during a reconnect's backoff to start it as soon as the network
   * path is back. null: wait out the backoff.
   */
  routeProbe?: { host: string; port: number } | null;
}

/** Kinds that end the process when they happen at the very first start. */
const FATAL_AT_START = new Set(["host-key-unknown", "host-key-changed", "auth", "dns", "unreachable", "timeout"]);

const DOCKER_RETRY_CAP_MS = 5_000;
/** A timer that fires this much later than planned means the machine slept (or we were stopped). */
const WAKE_SLACK_MS = 5_000;
/**
 * dockerd emits `die` before its container list (a snapshot) shows the
 * container stopped, so the list a `die` triggers can still show it running
 * (seen in churn tests with dockerd 20.10). A second look this long after the
 * last event catches it instead of the next resync, 30 s later.
 */
const SETTLE_RECHECK_MS = 1_000;
/**
 * With --on-conflict next-free, a port can pass the free-port probe and
 * still be taken before ssh binds it. The next reconcile then picks another
 * port; it runs this soon, a few times in a row, instead of at the resync.
 */
const NEXT_FREE_RETRY_MS = 250;
const NEXT_FREE_RETRIES = 5;
const NAME_CHARS = 80;
/** Reasons quote container names and ssh text: escaped and cut like them. */
const REASON_CHARS = 300;

class SessionEnded extends Error {}
/** An ssh attempt given up because the path came back while it hung on the dead one. */
class PathBack extends Error {}

export class Engine {
  readonly store: StatusStore;
  private readonly applier: ForwardApplier;
  private readonly reconciler: Coalescer<number>;
  private master: SshMaster | null = null;
  private mux: Mux;
  private docker: DockerLink | null = null;
  private everConnected = false;
  private readonly resyncIntervalMs: number;
  private readonly healthIntervalMs: number;
  private readonly announcedBlocks = new Map<number, string>();
  /** How many ports --max-forwards left out at the last warning (see warnOverCap). */
  private overCapAnnounced = 0;
  private readonly firstSeenMs = new Map<string, number>();
  private listedOnce = false;
  private settleRecheck: ReturnType<typeof setTimeout> | null = null;
  private nextFreeRetry: ReturnType<typeof setTimeout> | null = null;
  private nextFreeRetries = 0;
  /** See EngineOptions.routeProbe. */
  private readonly route: RouteWatch | null;
  /** --on-conflict next-free choices; kept across reconnects so a moved forward comes back on the same port. */
  private relocations = new Map<string, Relocation>();

  constructor(private readonly opts: EngineOptions) {
    const probe = opts.routeProbe;
    this.route = probe ? new RouteWatch(() => connects({ host: probe.host, port: probe.port }, ROUTE_PROBE_TIMEOUT_MS)) : null;
    this.store = new StatusStore(opts.host, process.pid, opts.version);
    this.mux = new Mux(opts.ssh);
    this.applier = new ForwardApplier(this.muxBackend(), opts.bindAddresses, findPortOwner);
    this.reconciler = new Coalescer((triggers) => this.reconcile(triggers), (err) => {
      log.warn("Reconcile failed; the next event or resync retries it", { error: (err as Error).message });
    });
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 30_000;
    this.healthIntervalMs = opts.healthIntervalMs ?? 15_000;
  }

  /** The status document as of now. */
  status() {
    return this.store.document({
      active: this.applier.active.values(), blocked: this.applier.blocked.values(),
      history: this.applier.history, bindAddresses: this.opts.bindAddresses,
    });
  }

  private saveState(): void {
    this.store.touch();
    try {
      writeFileAtomic(this.opts.paths.stateFile, JSON.stringify(this.status()));
    } catch (err) {
      log.warn("Could not write the state file", { path: this.opts.paths.stateFile, error: (err as Error).message });
    }
  }

  private setState(state: StatusStore["state"], error: string | null = this.store.lastError): void {
    this.store.state = state;
    this.store.lastError = error;
    this.saveState();
  }

  /** Runs until `signal` aborts. Throws RdhpfError (exit 2) for a configuration error at first start. */
  async run(signal: AbortSignal): Promise<void> {
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
          if (!this.everConnected && kind !== null && FATAL_AT_START.has(kind)) {
            throw new RdhpfError((err as SshConnectError).message, (err as SshConnectError).hint, 2, { cause: err });
          }
          if (!signal.aborted) {
            this.store.ssh.consecutiveFailures++;
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
  private async session(signal: AbortSignal, attempt: number, watchPath: boolean, onHealthy: () => void): Promise<string | null> {
    let masterFailure: string | null = null;
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
      this.store.ssh = {
        ...this.store.ssh, connected: true, masterPid: master.pid, connectionsOpened: this.store.ssh.connectionsOpened + 1,
        reconnects: this.store.ssh.reconnects + (this.everConnected ? 1 : 0), connectedSinceMs: Date.now(), consecutiveFailures: 0,
      };
      this.everConnected = true;
      this.route?.forget();
      log.info("SSH ControlMaster verified healthy", { master_pid: master.pid, connect_ms: Date.now() - connectStarted });

      const timers = this.startTimers(master, sessionAbort.signal, endSession);
      try {
        await this.dockerLoop(sessionAbort.signal, onHealthy);
      } finally {
        for (const t of timers) clearInterval(t);
      }
      return masterFailure;
    } finally {
      signal.removeEventListener("abort", onOuterAbort);
      sessionAbort.abort(new SessionEnded("session over"));
    }
  }

  /** Health check every 15 s, resync every 30 s, and wake detection. */
  private startTimers(master: SshMaster, signal: AbortSignal, endSession: (reason: string) => void): ReturnType<typeof setInterval>[] {
    let lastTickMs = Date.now();
    const health = setInterval(async () => {
      const now = Date.now();
      const late = now - lastTickMs - this.healthIntervalMs;
      lastTickMs = now;
      if (late > WAKE_SLACK_MS) {
        log.info("Timer fired late: the machine slept or rdhpf was stopped; checking now", { late_ms: late });
        this.reconciler.request();
        // After a sleep the TCP connection may be dead without the master knowing yet.
        if (this.docker) this.docker.client.ping().catch(() => endSession("no answer from Docker after wake"));
      }
      if (!(await master.check().catch(() => false)) && !signal.aborted) endSession("ControlMaster check failed");
    }, this.healthIntervalMs);
    const resync = setInterval(() => this.reconciler.request(), this.resyncIntervalMs);
    return [health, resync];
  }

  /** Keeps a Docker link and its event stream up while the SSH session lives. */
  private async dockerLoop(signal: AbortSignal, onHealthy: () => void): Promise<void> {
    let failures = 0;
    let rechecked = false;
    while (!signal.aborted) {
      let lastError = "Docker event stream interrupted";
      try {
        const { endpoint, fromCache } = await endpointToOpen(this.mux, this.knownEndpoint());
        if (signal.aborted) return;
        this.docker = await openDockerLink(this.mux, this.opts.paths, endpoint);
        const d = this.docker;
        Object.assign(this.store.docker, { connected: true, serverVersion: d.serverVersion, apiVersion: d.apiVersion, transport: d.transport, endpoint: d.endpoint });
        log.info("Docker daemon connectivity validated", { docker_version: d.serverVersion, api_version: d.apiVersion, transport: d.transport, endpoint: d.endpoint });
        if (fromCache && !rechecked) {
          rechecked = true;
          void this.recheckEndpoint(endpoint, signal);
        }
        await this.streamEvents(d, signal, () => {
          failures = 0;
          onHealthy();
        });
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof RdhpfError) lastError = err.hint ? `${err.message}; ${err.hint}` : err.message;
        log.warn("Docker link failed; retrying", { error: (err as Error).message, hint: (err as RdhpfError).hint ?? null, retry_in_ms: backoffDelayMs(failures, DOCKER_RETRY_CAP_MS) });
      } finally {
        await this.closeDocker();
      }
      if (signal.aborted) return;
      this.store.docker.eventStreamRestarts++;
      this.setState("degraded", lastError);
      await sleep(backoffDelayMs(failures++, DOCKER_RETRY_CAP_MS), signal);
    }
  }

  /** The endpoint last used: the cache, or this process's memory of it when the cache is unreadable. */
  private knownEndpoint(): string | null {
    return readCachedEndpoint(this.opts.paths) ?? this.store.docker.endpoint;
  }

  /**
   * The endpoint used from the cache is checked once per connection. Only a
   * successful discovery that reports another endpoint switches (the link
   * restarts on it); a failed one keeps the endpoint and the cache.
   */
  private async recheckEndpoint(used: string, signal: AbortSignal): Promise<void> {
    const choice = chooseEndpoint(used, await discoverEndpoint(this.mux));
    if (signal.aborted) return;
    if (choice.kind === "keep") {
      log.warn("Could not re-check the remote Docker endpoint; keeping the last known one", { endpoint: used, reason: displaySafe(choice.reason, 200) });
    } else if (choice.kind === "use" && choice.changedFrom !== null) {
      log.info("Remote Docker endpoint changed; switching", { from: choice.changedFrom, to: choice.endpoint });
      try {
        writeFileAtomic(this.opts.paths.endpointCache, `${choice.endpoint}\n`);
      } catch (err) {
        log.warn("Could not write the endpoint cache", { path: this.opts.paths.endpointCache, error: (err as Error).message });
      }
      this.store.docker.endpoint = choice.endpoint;
      await this.closeDocker();
    }
  }

  private async closeDocker(): Promise<void> {
    const d = this.docker;
    this.docker = null;
    this.store.docker.connected = false;
    if (d) await d.close().catch(() => undefined);
  }

  /** Streams events until the stream ends; the stream is opened before the first list so nothing falls between. */
  private async streamEvents(link: DockerLink, signal: AbortSignal, onOpen: () => void): Promise<void> {
    const started = Date.now();
    let received = 0;
    let firstAt: number | null = null;
    const streamAbort = new AbortController();
    const stop = () => streamAbort.abort();
    signal.addEventListener("abort", stop, { once: true });
    // closeDocker() (endpoint change) ends the stream by closing the client.
    try {
      for await (const event of link.client.events({
        signal: streamAbort.signal,
        onOpen: () => {
          log.info("docker events stream started", { startup_duration_ms: Date.now() - started });
          this.setState("connected", null);
          onOpen();
          this.reconciler.request();
        },
      })) {
        const now = Date.now();
        received++;
        this.store.docker.eventsReceived++;
        this.store.docker.lastEventAtMs = now;
        if (firstAt === null) {
          firstAt = now;
          log.info("First Docker event received", { time_since_start_ms: now - started });
        }
        if (isContainerLifecycleEvent(event)) {
          this.reconciler.request(now);
          this.requestSettleRecheck();
        }
        if (this.docker !== link) break;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      log.info("docker events stream ended", { total_duration_ms: Date.now() - started, events_received: received });
    }
  }

  /** One more reconcile SETTLE_RECHECK_MS after the last lifecycle event (see SETTLE_RECHECK_MS). */
  private requestSettleRecheck(): void {
    if (this.settleRecheck) clearTimeout(this.settleRecheck);
    this.settleRecheck = setTimeout(() => {
      this.settleRecheck = null;
      this.reconciler.request();
    }, SETTLE_RECHECK_MS);
    this.settleRecheck.unref?.();
  }

  /** See NEXT_FREE_RETRY_MS. */
  private retryNextFreeSoon(blocked: boolean): void {
    if (!blocked || this.opts.onConflict !== "next-free") {
      this.nextFreeRetries = 0;
      return;
    }
    if (this.nextFreeRetry || this.nextFreeRetries >= NEXT_FREE_RETRIES) return;
    this.nextFreeRetries++;
    this.nextFreeRetry = setTimeout(() => {
      this.nextFreeRetry = null;
      this.reconciler.request();
    }, NEXT_FREE_RETRY_MS);
    this.nextFreeRetry.unref?.();
  }

  /** One level-triggered reconcile: list → desired → plan → apply. */
  private async reconcile(triggersMs: number[]): Promise<void> {
    const link = this.docker;
    if (!link || !this.master) return;
    const containers = this.withObservedStart(await link.client.listContainers());
    this.store.setContainers(containers);
    const desired = await this.resolvePortConflicts(desiredForwards(containers, this.opts.rules, this.opts.maxForwards));
    this.warnOverCap(desired);
    const plan = planForwards(desired, this.applier.active);
    const outcome = await this.applier.apply(plan);
    const now = Date.now();
    const earliest = triggersMs.length > 0 ? Math.min(...triggersMs) : null;
    this.store.forwardsAdded += outcome.added.length;
    this.store.forwardsRemoved += outcome.removed.length;

    for (const f of outcome.added) {
      const latencyMs = earliest === null ? null : now - earliest;
      if (latencyMs !== null) this.store.recordLatency(latencyMs);
      log.info("Forward added", {
        container: displaySafe(f.containerName, NAME_CHARS), local: f.bindAddresses.map((a) => hostPort(a, f.localPort)).join(","),
        remote: hostPort(f.remoteHost, f.remotePort), latency_ms: latencyMs,
      });
    }
    for (const f of outcome.removed) {
      log.info("Forward removed", { container: displaySafe(f.containerName, NAME_CHARS), local_port: f.localPort, reason: displaySafe(f.endReason, REASON_CHARS) });
    }
    for (const f of outcome.adopted) {
      log.info("Forward now serves another container", { container: displaySafe(f.containerName, NAME_CHARS), local_port: f.localPort });
    }
    for (const b of outcome.blocked) {
      if (this.announcedBlocks.get(b.desired.localPort) === b.reason) continue;
      this.announcedBlocks.set(b.desired.localPort, b.reason);
      log.warn("Forward blocked; retrying at every resync", { container: displaySafe(b.desired.containerName, NAME_CHARS), local_port: b.desired.localPort, reason: displaySafe(b.reason, REASON_CHARS) });
    }
    for (const port of [...this.announcedBlocks.keys()]) if (!this.applier.blocked.has(port)) this.announcedBlocks.delete(port);
    this.retryNextFreeSoon(outcome.blocked.length > 0);

    this.store.reported = desired.filter((d) => d.disposition !== "wanted");
    // Forwards in conflict make the status read `degraded` through their rows (StatusStore.stateGiven).
    this.setState("connected", null);
  }

  /**
   * One line for all ports that --max-forwards leaves out (never one per
   * port), and only when their number changes: the resync every 30 s would
   * otherwise repeat it forever.
   */
  private warnOverCap(desired: DesiredForward[]): void {
    const maxForwards = this.opts.maxForwards ?? DEFAULT_MAX_FORWARDS;
    const reason = overCapReason(maxForwards);
    const over = desired.filter((d) => d.disposition === "ignored" && d.reason === reason).length;
    if (over > 0 && over !== this.overCapAnnounced) {
      log.warn("More published ports than --max-forwards; the rest are ignored (see rdhpf status)", { max_forwards: maxForwards, ignored: over });
    }
    this.overCapAnnounced = over;
  }

  /**
   * Docker's `Created` has one-second resolution, too coarse to tell which of
   * two containers started last. A container first seen after rdhpf's first
   * list counts as started when rdhpf saw it, so "the most recent wins" holds
   * for containers started in the same second.
   */
  private withObservedStart(containers: ObservedContainer[]): ObservedContainer[] {
    const now = Date.now();
    const present = new Set<string>();
    const out = containers.map((c) => {
      present.add(c.id);
      let seen = this.firstSeenMs.get(c.id);
      if (seen === undefined) {
        seen = this.listedOnce ? now : 0;
        this.firstSeenMs.set(c.id, seen);
      }
      return seen > 0 ? { ...c, createdS: Math.max(c.createdS, seen / 1000) } : c;
    });
    for (const id of [...this.firstSeenMs.keys()]) if (!present.has(id)) this.firstSeenMs.delete(id);
    this.listedOnce = true;
    return out;
  }

  /** Applies --on-conflict: with next-free, forwards whose local port is taken move to the next free one. */
  private async resolvePortConflicts(desired: DesiredForward[]): Promise<DesiredForward[]> {
    const policy = this.opts.onConflict ?? "wait";
    if (policy === "wait") return desired;
    const r = await resolveConflicts(desired, {
      policy, relocations: this.relocations, active: this.applier.active, reservedPorts: new Set(Object.values(this.opts.rules.map)),
    }, localPortProbe(this.opts.bindAddresses));
    this.relocations = r.relocations;
    for (const d of r.decided) {
      log.info("Local port taken; forwarding to the next free port", { container: displaySafe(d.containerName, NAME_CHARS), wanted_port: d.wantedPort, local_port: d.localPort, reason: displaySafe(d.reason, REASON_CHARS) });
    }
    return r.forwards;
  }

  /** Tears the session down: forwards are gone with the master. */
  private async endSession(reason: string): Promise<void> {
    const shutdown = reason === "rdhpf shutdown";
    const ended = shutdown && this.master?.pid ? await this.applier.cancelAll(reason) : this.applier.dropAll(reason);
    this.store.forwardsRemoved += ended.length;
    // Without a connection rdhpf sees no container; rows from the last list would be stale.
    this.store.containers = [];
    this.store.reported = [];
    await this.closeDocker();
    const master = this.master;
    this.master = null;
    if (master) await master.stop().catch(() => undefined);
    this.opts.lock.setMasterPid(null);
    rmSync(this.opts.paths.dockerSocket, { force: true });
    this.store.ssh = { ...this.store.ssh, connected: false, masterPid: null, connectedSinceMs: null };
    this.saveState();
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
