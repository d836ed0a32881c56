/**
 * One level-triggered reconcile, start to end:
 *
 *   list containers → desired forwards → --on-conflict → plan → apply → status, logs
 *
 * Level-triggered because events can be lost (a reconnect, a dockerd
 * restart) and a reconcile from the full list is right whatever was missed.
 * The decisions are pure functions in src/forward/ and observed_start.ts;
 * what stays here is their order, the log line per decision and the figures
 * for `rdhpf status`. Who asks for a reconcile (events, timers) is not this
 * file's business: it runs when called (through the Coalescer).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { hostPort } from "../address.ts";
import { type ApplyOutcome, DEFAULT_MAX_FORWARDS, type DesiredForward, desiredForwards, type ForwardApplier, localPortProbe, type OnConflict, overCapReason, planForwards, type PortRules, type Relocation, resolveConflicts } from "../forward/mod.ts";
import { displaySafe } from "../text_safety.ts";
import type { DockerLink } from "./docker_link.ts";
import { NO_SIGHTINGS, type Sightings, withObservedStart } from "./observed_start.ts";
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
/** Reasons quote container names and ssh text: escaped and cut like them. */
const REASON_CHARS = 300;

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
  private sightings: Sightings = NO_SIGHTINGS;
  /** --on-conflict next-free choices; kept across reconnects so a moved forward comes back on the same port. */
  private relocations = new Map<string, Relocation>();
  private nextFreeRetry: ReturnType<typeof setTimeout> | null = null;
  private nextFreeRetries = 0;
  /** The desired forwards of the last reconcile: what the start hold checks a container against. */
  lastDesired: readonly DesiredForward[] = [];

  constructor(
    private readonly opts: ReconcilerOptions,
    private readonly applier: ForwardApplier,
    private readonly store: StatusStore,
    /** Asks for another reconcile (through the Coalescer). */
    private readonly requestReconcile: () => void,
    /** Writes the status out once a reconcile is done. */
    private readonly publish: () => void,
  ) {}

  /** One reconcile over `link`; `triggersMs` are the times of the events that asked for it (for the latency figures). */
  async reconcile(link: DockerLink, triggersMs: number[]): Promise<void> {
    const observed = withObservedStart(await link.client.listContainers(), this.sightings, Date.now());
    this.sightings = observed.sightings;
    this.store.setContainers(observed.containers);
    const desired = await this.resolvePortConflicts(desiredForwards(observed.containers, this.opts.rules, this.opts.maxForwards));
    this.warnOverCap(desired);
    this.warnRuleNotes(desired);
    const outcome = await this.applier.apply(planForwards(desired, this.applier.active));
    this.lastDesired = desired;
    this.report(outcome, triggersMs);
    this.retryNextFreeSoon(outcome.blocked.length > 0);
    this.store.setReported(desired);
    // Forwards in conflict make the status read `degraded` through their rows (StatusStore.stateGiven).
    this.store.enter("connected", null);
    this.publish();
  }

  /** One log line per decision, the totals, and the add latency (earliest trigger → forward active). */
  private report(outcome: ApplyOutcome, triggersMs: number[]): void {
    const now = Date.now();
    const earliest = triggersMs.length > 0 ? Math.min(...triggersMs) : null;
    this.store.forwardsChanged(outcome.added.length, outcome.removed.length);
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
