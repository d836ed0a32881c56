/**
 * One reconcile, start to end:
 *
 *   observe (full list, or only the containers events named) → desired
 *   forwards → --on-conflict → plan → apply → status, logs
 *
 * Observing follows the informer pattern (observed_store.ts): a full
 * `GET /containers/json` on a new Docker link and when a trigger asks for
 * one (the resync every 30 s, a wake); otherwise each event changes only the
 * container it names, forgotten or looked up with `GET /containers/{id}/json`.
 * The per-event cost thus does not grow with the number of containers in
 * API calls or parsing; the planning below stays a diff over the in-memory
 * state (well under a millisecond for 300 containers, see
 * docs/performance.md). Events can be lost (a reconnect, rdhpf stopped, a
 * dockerd restart): the resync's full list repairs whatever was missed.
 *
 * The decisions are pure functions in src/forward/ and observed_store.ts;
 * what stays here is their order, the fetching, the log line per decision
 * and the figures for `rdhpf status`. Who asks for a reconcile (events,
 * timers) is not this file's business: it runs when called (through the
 * Coalescer).
 *
 * @module
 */
import { setImmediate } from "node:timers/promises";
import { getLogger } from "@logtape/logtape";
import { hostPort } from "../address.ts";
import { type ApplyOutcome, DEFAULT_MAX_FORWARDS, type DesiredForward, desiredForwards, type ForwardApplier, localPortProbe, type OnConflict, overCapReason, planForwards, type PortRules, type Relocation, resolveConflicts } from "../forward/mod.ts";
import { displaySafe } from "../text_safety.ts";
import type { DockerLink } from "./docker_link.ts";
import { InspectFlights } from "./inspect_flights.ts";
import { monotonicNowMs } from "./monotonic_clock.ts";
import { type ContainerNews, foldNews, ObservedStore, recheckAfterList } from "./observed_store.ts";
import type { StatusStore } from "./status_store.ts";

const log = getLogger(["rdhpf", "engine"]);

/**
 * With --on-conflict next-free, a port can pass the free-port probe and
 * still be taken before ssh binds it. The next reconcile then picks another
 * port; it runs this soon, a few times in a row, instead of at the resync.
 */
const NEXT_FREE_RETRY_MS = 250;
const NEXT_FREE_RETRIES = 5;
const NAME_CHARS = 80;
/**
 * A full list is a snapshot that can lag the events by a moment: dockerd
 * sends `die` before its list shows the container stopped (seen in churn
 * tests with dockerd 20.10). Containers with an event this shortly before a
 * list are looked up again after it (see recheckAfterList).
 */
const LIST_LAG_WINDOW_MS = 1_000;
/** Reasons quote container names and ssh text: escaped and cut like them. */
const REASON_CHARS = 300;

/** Why a reconcile was asked for. */
export type ReconcileTrigger =
  /** A full list: a (re)connect, the resync, a wake. */
  | { kind: "list" }
  /**
   * News of one container: an event, received at `atMs` (for the add
   * latency), or the start hold's own inspect (sent at `atMs`), which the
   * reconcile takes without asking the Engine again.
   */
  | ({ kind: "event" } & ContainerNews);

/** A container to look up, with a request sent after `notBeforeMs`. */
type LookUp = { id: string; notBeforeMs: number };

export interface ReconcilerOptions {
  rules: PortRules;
  /** What to do when a wanted local port is taken (default "wait"). */
  onConflict?: OnConflict;
  /** Most forwards for this host (--max-forwards); default DEFAULT_MAX_FORWARDS. */
  maxForwards?: number;
  bindAddresses: string[];
}

export class Reconciler {
  /** The reason last logged per blocked port: a block is announced once, not at every resync. */
  private readonly announcedBlocks = new Map<number, string>();
  /** How many ports --max-forwards left out at the last warning (see warnOverCap). */
  private overCapAnnounced = 0;
  /** Container id + note of the rule notes already warned about (see warnRuleNotes). */
  private ruleNotesAnnounced = new Set<string>();
  private readonly observed = new ObservedStore();
  /** The link the observed state was last listed through; another link needs a full list first. */
  private listedLink: DockerLink | null = null;
  /** The fingerprint of that list (list_digest.ts). */
  private listDigest: string | null = null;
  /** When each container's last event arrived, for LIST_LAG_WINDOW_MS; older entries are dropped. */
  private readonly lastEventMs = new Map<string, number>();
  /** --on-conflict next-free choices; kept across reconnects so a moved forward comes back on the same port. */
  private relocations = new Map<string, Relocation>();
  private nextFreeRetry: ReturnType<typeof setTimeout> | null = null;
  private nextFreeRetries = 0;
  /** The desired forwards of the last reconcile: what the start hold checks a container against. */
  lastDesired: readonly DesiredForward[] = [];
  /** How long the phases of the last reconcile took, for the start hold's debug line. */
  lastTimings = { observeMs: 0, applyMs: 0, endedAt: 0 };
  /** Container inspects in flight, shared with the start hold (inspect_flights.ts). */
  readonly inspects = new InspectFlights();
  /** Callers of `nextApply`. */
  private applyWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: ReconcilerOptions,
    private readonly applier: ForwardApplier,
    private readonly store: StatusStore,
    /** Asks for another reconcile (through the Coalescer), for `trigger` if given. */
    private readonly requestReconcile: (trigger?: ReconcileTrigger) => void,
    /** Writes the status out once a reconcile is done. */
    private readonly publish: () => void,
  ) {}

  /** One reconcile over `link` for `triggers` (none: plan again over what is known). */
  async reconcile(link: DockerLink, triggers: ReconcileTrigger[]): Promise<void> {
    const started = performance.now();
    const events = triggers.filter((t) => t.kind === "event");
    const unchanged = await this.observe(link, triggers.some((t) => t.kind === "list"), events);
    const observed = performance.now();
    const triggersMs = events.map((e) => e.atMs);
    const containers = this.observed.containers();
    if (!unchanged) this.store.setContainers(containers);
    const desired = await this.resolvePortConflicts(desiredForwards(containers, this.opts.rules, this.opts.maxForwards));
    this.warnOverCap(desired);
    this.warnRuleNotes(desired);
    const planned = performance.now();
    const plan = planForwards(desired, this.applier.active);
    // The resync of a quiet host: the same list, and forwards as planned (none to add, which
    // includes retrying a blocked one). Nothing to report, and the status is as last written.
    const quiet = unchanged && plan.add.length === 0 && plan.remove.length === 0 && plan.adopt.length === 0 && this.store.connectedClean;
    const outcome = await this.applier.apply(plan);
    this.lastDesired = desired;
    const applied = performance.now();
    this.lastTimings = { observeMs: observed - started, applyMs: applied - planned, endedAt: applied };
    const waiters = this.applyWaiters;
    this.applyWaiters = [];
    for (const wake of waiters) wake();
    if (quiet) return this.retryNextFreeSoon(false);
    // Lets a start hold release its response now, before the log lines and the state file below (1-2 ms, more under load).
    if (waiters.length > 0) await setImmediate();
    this.report(outcome, triggersMs);
    this.retryNextFreeSoon(outcome.blocked.length > 0);
    this.store.setReported(desired);
    // Forwards in conflict make the status read `degraded` through their rows (StatusStore.stateGiven).
    this.store.enter("connected", null);
    this.publish();
  }

  /**
   * Resolves when the next reconcile has applied its plan: `lastDesired` and
   * the applier's forwards then agree, and the start hold looks whether its
   * container is settled (before the status is written).
   */
  nextApply(): Promise<void> {
    return new Promise<void>((resolve) => this.applyWaiters.push(resolve));
  }

  /**
   * Brings the observed state up to date: a full list when asked or on a new
   * link, else only the containers the events name. True when it is known
   * unchanged: a list on the same link, equal to the last one
   * (list_digest.ts), and nothing learnt in between.
   */
  private async observe(link: DockerLink, listWanted: boolean, events: Array<Extract<ReconcileTrigger, { kind: "event" }>>): Promise<boolean> {
    const now = monotonicNowMs();
    for (const e of events) this.lastEventMs.set(e.id, e.atMs);
    for (const [id, at] of this.lastEventMs) if (at < now - LIST_LAG_WINDOW_MS) this.lastEventMs.delete(id);
    if (listWanted || this.listedLink !== link) {
      const started = monotonicNowMs();
      // Only a store that still holds the last list as it was may skip the new one's parsing.
      const comparable = events.length === 0 && this.listedLink === link && this.observed.unchangedSinceList;
      const { digest, containers } = await link.client.listContainersIfChanged(comparable ? this.listDigest : null);
      if (containers === null) this.observed.confirmList(started);
      else this.observed.replaceAll(containers, started);
      this.listDigest = digest;
      this.listedLink = link;
      const recheck = recheckAfterList(this.lastEventMs, started, LIST_LAG_WINDOW_MS);
      await this.lookUp(link, recheck.map((id) => ({ id, notBeforeMs: started })));
      log.debug("Resync done", { containers: this.observed.size, unchanged: containers === null, rechecked: recheck.length, duration_ms: Math.round(monotonicNowMs() - started) });
      return containers === null && recheck.length === 0 && events.length === 0;
    }
    const lookUps: LookUp[] = [];
    for (const [id, step] of foldNews(events)) {
      if (step.do === "forget") this.observed.forget(id, step.atMs);
      else if (step.do === "look-up") lookUps.push({ id, notBeforeMs: step.atMs });
      else {
        this.observed.update(id, step.container, step.atMs);
        // The event came after the hold's inspect was sent: its look-up follows at once, after this reconcile.
        if (step.lookUpNext !== null) this.requestReconcile({ kind: "event", id, effect: "inspect", atMs: step.lookUpNext });
      }
    }
    await this.lookUp(link, lookUps);
    return false;
  }

  /**
   * `GET /containers/{id}/json` for each id, at once, into the observed
   * state; a request already in flight for an id (the start hold's) is
   * joined when it was sent after `notBeforeMs` (inspect_flights.ts). A
   * lookup that fails leaves that container as it was; the next reconcile,
   * asked for here, then lists them all.
   */
  private async lookUp(link: DockerLink, wanted: LookUp[]): Promise<void> {
    if (wanted.length === 0) return;
    const flights = wanted.map((w) => this.inspects.inspect(link.client, w.id, w.notBeforeMs));
    const found = await Promise.allSettled(flights.map((f) => f.answer));
    let failed: string | null = null;
    found.forEach((r, i) => {
      if (r.status === "fulfilled") this.observed.update(wanted[i]!.id, r.value, flights[i]!.sentMs);
      else failed ??= (r.reason as Error).message;
    });
    if (failed !== null) {
      log.warn("Could not look up a container after its event; listing all of them", { error: displaySafe(failed, REASON_CHARS) });
      this.listedLink = null;
      this.requestReconcile();
    }
  }

  /** One log line per decision, the totals, and the add latency (earliest trigger → forward active). */
  private report(outcome: ApplyOutcome, triggersMs: number[]): void {
    const now = monotonicNowMs();
    const earliest = triggersMs.length > 0 ? Math.min(...triggersMs) : null;
    this.store.forwardsChanged(outcome.added.length, outcome.removed.length);
    for (const f of outcome.added) {
      const latencyMs = earliest === null ? null : Math.round(now - earliest);
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
    for (const { forward: f, oldName } of outcome.renamed) {
      log.info("Container renamed; its forward stays", { container: displaySafe(f.containerName, NAME_CHARS), was: displaySafe(oldName, NAME_CHARS), local_port: f.localPort });
    }
    for (const b of outcome.blocked) {
      if (this.announcedBlocks.get(b.desired.localPort) === b.reason) continue;
      this.announcedBlocks.set(b.desired.localPort, b.reason);
      log.warn("Forward blocked; retrying at every resync", { container: displaySafe(b.desired.containerName, NAME_CHARS), local_port: b.desired.localPort, reason: displaySafe(b.reason, REASON_CHARS) });
    }
    for (const port of [...this.announcedBlocks.keys()]) if (!this.applier.blocked.has(port)) this.announcedBlocks.delete(port);
  }

  /**
   * One line for all ports that --max-forwards leaves out (never one per
   * port), and only when their number changes: the resync every 30 s would
   * otherwise repeat it forever.
   */
  /** One warning per container and rule that could not apply as written (a bad rdhpf.port label, a --map given twice). */
  private warnRuleNotes(desired: DesiredForward[]): void {
    const now = new Set<string>();
    for (const d of desired) {
      if (!d.ruleNote) continue;
      const key = `${d.containerId} ${d.ruleNote}`;
      now.add(key);
      if (!this.ruleNotesAnnounced.has(key)) {
        log.warn("A port rule could not apply as written", { container: displaySafe(d.containerName, 80), remote_port: d.remotePort, local_port: d.localPort, reason: displaySafe(d.ruleNote, 300) });
      }
    }
    // Forget containers that are gone, so memory follows the host.
    this.ruleNotesAnnounced = now;
  }

  private warnOverCap(desired: DesiredForward[]): void {
    const maxForwards = this.opts.maxForwards ?? DEFAULT_MAX_FORWARDS;
    const reason = overCapReason(maxForwards);
    const over = desired.filter((d) => d.disposition === "ignored" && d.reason === reason).length;
    if (over > 0 && over !== this.overCapAnnounced) {
      log.warn("More published ports than --max-forwards; the rest are ignored (see rdhpf status)", { max_forwards: maxForwards, ignored: over });
    }
    this.overCapAnnounced = over;
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
      this.requestReconcile();
    }, NEXT_FREE_RETRY_MS);
    this.nextFreeRetry.unref?.();
  }
}
