/**
 * Carries out a forward plan through the SSH master and remembers what the
 * master holds (the "actual" side of the reconciler), which local ports are
 * blocked, and which forwards ended recently.
 *
 * The backend is a narrow interface so that this file stays free of process
 * handling: the daemon passes the SSH mux.
 *
 * @module
 */
import type { LocalForward } from "../ssh/mod.ts";
import type { DesiredForward } from "./desired.ts";
import type { ActiveForward, ForwardPlan } from "./diff.ts";

/** One listener: `bindAddress:localPort` → `remoteHost:remotePort` on the remote side. */
export interface BackendResult {
  ok: LocalForward[];
  failed: Array<{ spec: LocalForward; reason: string; portInUse: boolean }>;
}

/** What the applier needs from the SSH side. */
export interface ForwardBackend {
  add(specs: LocalForward[]): Promise<BackendResult>;
  cancel(specs: LocalForward[]): Promise<BackendResult>;
}

/** A wanted forward that could not be opened locally. */
export interface BlockedForward {
  desired: DesiredForward;
  reason: string;
  sinceMs: number;
}

export interface EndedForward extends ActiveForward {
  endedAtMs: number;
  endReason: string;
}

/** What one apply did, for one log line per decision and for latency figures. */
export interface ApplyOutcome {
  added: ActiveForward[];
  removed: EndedForward[];
  blocked: BlockedForward[];
  /** Forwards that now serve another container. */
  adopted: ActiveForward[];
  /** Forwards whose container was renamed, each with the name it had. */
  renamed: Array<{ forward: ActiveForward; oldName: string }>;
}

export const HISTORY_LIMIT = 100;
export const HISTORY_WINDOW_MS = 60 * 60 * 1000;

export class ForwardApplier {
  readonly active = new Map<number, ActiveForward>();
  readonly blocked = new Map<number, BlockedForward>();
  history: EndedForward[] = [];

  constructor(
    private readonly backend: ForwardBackend,
    private readonly bindAddresses: string[],
    /** Describes who holds a busy local port ("pid 123 (postgres)"), or null when the OS will not say. */
    private readonly describePortOwner: (port: number) => Promise<string | null> = async () => null,
  ) {}

  private specsOf(f: { localPort: number; remoteHost: string; remotePort: number }, addresses = this.bindAddresses): LocalForward[] {
    return addresses.map((bindAddress) => ({ bindAddress, localPort: f.localPort, remoteHost: f.remoteHost, remotePort: f.remotePort }));
  }

  /** Applies a plan computed by `planForwards` against `this.active`. */
  async apply(plan: ForwardPlan, nowMs: () => number = Date.now): Promise<ApplyOutcome> {
    const outcome: ApplyOutcome = { added: [], removed: [], blocked: [], adopted: [], renamed: [] };

    if (plan.remove.length > 0) {
      // A failed cancel means the master no longer holds the listener (it is
      // gone either way), so the forward leaves the active set regardless.
      await this.backend.cancel(plan.remove.flatMap((r) => this.specsOf(r.forward, r.forward.bindAddresses)));
      for (const { forward, reason } of plan.remove) {
        this.active.delete(forward.localPort);
        outcome.removed.push(this.remember(forward, reason, nowMs()));
      }
    }

    for (const { forward, by } of plan.adopt) {
      const adopted = { ...forward, containerId: by.containerId, containerName: by.containerName, reason: by.reason };
      this.active.set(forward.localPort, adopted);
      if (by.containerId === forward.containerId) outcome.renamed.push({ forward: adopted, oldName: forward.containerName });
      else outcome.adopted.push(adopted);
    }

    const wantedPorts = new Set(plan.add.map((d) => d.localPort));
    for (const port of [...this.blocked.keys()]) if (!wantedPorts.has(port)) this.blocked.delete(port);

    if (plan.add.length > 0) {
      const result = await this.backend.add(plan.add.flatMap((d) => this.specsOf(d)));
      const failedByPort = new Map<number, Array<{ spec: LocalForward; reason: string; portInUse: boolean }>>();
      for (const f of result.failed) failedByPort.set(f.spec.localPort, [...(failedByPort.get(f.spec.localPort) ?? []), f]);
      const undo: LocalForward[] = [];
      for (const d of plan.add) {
        const failures = failedByPort.get(d.localPort);
        if (!failures) {
          const added: ActiveForward = {
            localPort: d.localPort, remoteHost: d.remoteHost, remotePort: d.remotePort, bindAddresses: [...this.bindAddresses],
            containerId: d.containerId, containerName: d.containerName, sinceMs: nowMs(), reason: d.reason,
          };
          this.active.set(d.localPort, added);
          this.blocked.delete(d.localPort);
          outcome.added.push(added);
          continue;
        }
        // Half a forward (127.0.0.1 but not ::1) would send some clients of
        // "localhost" to whoever holds the other address: all or nothing.
        undo.push(...result.ok.filter((s) => s.localPort === d.localPort));
        const first = failures[0]!;
        const reason = first.portInUse ? await this.busyReason(d.localPort, first.spec.bindAddress) : first.reason;
        const previous = this.blocked.get(d.localPort);
        const blocked = { desired: d, reason, sinceMs: previous?.reason === reason ? previous.sinceMs : nowMs() };
        this.blocked.set(d.localPort, blocked);
        outcome.blocked.push(blocked);
      }
      if (undo.length > 0) await this.backend.cancel(undo);
    }
    this.pruneHistory(nowMs());
    return outcome;
  }

  private async busyReason(port: number, address: string): Promise<string> {
    const owner = await this.describePortOwner(port).catch(() => null);
    return owner
      ? `local port ${port} is in use by ${owner}`
      : `local port ${port} is in use on ${address}; find the owner with \`lsof -nP -iTCP:${port} -sTCP:LISTEN\``;
  }

  /**
   * Takes forwards as held without asking the master: those an adopted
   * master holds, as the previous rdhpf recorded them. The next apply adds
   * and cancels only the difference.
   */
  assumeHeld(forwards: Iterable<ActiveForward>): void {
    for (const f of forwards) this.active.set(f.localPort, { ...f, bindAddresses: [...f.bindAddresses] });
  }

  /**
   * Adds again, through a new master, forwards that the previous one held
   * when it died, without waiting for Docker: the reconcile that follows
   * removes any whose container is gone meanwhile. A port whose listener
   * cannot be opened again (on every bind address) is left out, for that
   * reconcile to decide. Returns the forwards now active.
   */
  async restore(forwards: Iterable<ActiveForward>, nowMs: () => number = Date.now): Promise<ActiveForward[]> {
    const wanted = [...forwards].filter((f) => !this.active.has(f.localPort));
    if (wanted.length === 0) return [];
    const result = await this.backend.add(wanted.flatMap((f) => this.specsOf(f, f.bindAddresses)));
    const failedPorts = new Set(result.failed.map((f) => f.spec.localPort));
    // All or nothing per port, as in apply().
    const undo = result.ok.filter((s) => failedPorts.has(s.localPort));
    if (undo.length > 0) await this.backend.cancel(undo);
    const restored: ActiveForward[] = [];
    for (const f of wanted) {
      if (failedPorts.has(f.localPort)) continue;
      const again = { ...f, bindAddresses: [...f.bindAddresses], sinceMs: nowMs() };
      this.active.set(f.localPort, again);
      restored.push(again);
    }
    return restored;
  }

  /** Forgets every forward: the master that held them is gone. */
  dropAll(reason: string, nowMs = Date.now()): EndedForward[] {
    const ended = [...this.active.values()].map((f) => this.remember(f, reason, nowMs));
    this.active.clear();
    this.blocked.clear();
    return ended;
  }

  /** Cancels every forward (shutdown). */
  async cancelAll(reason: string): Promise<EndedForward[]> {
    const specs = [...this.active.values()].flatMap((f) => this.specsOf(f, f.bindAddresses));
    if (specs.length > 0) await this.backend.cancel(specs).catch(() => undefined);
    return this.dropAll(reason);
  }

  private remember(f: ActiveForward, reason: string, nowMs: number): EndedForward {
    const ended = { ...f, endedAtMs: nowMs, endReason: reason };
    this.history.unshift(ended);
    return ended;
  }

  private pruneHistory(nowMs: number): void {
    this.history = this.history.filter((h) => nowMs - h.endedAtMs <= HISTORY_WINDOW_MS).slice(0, HISTORY_LIMIT);
  }
}
