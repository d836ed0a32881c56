/**
 * What to do when the local port a forward wants is taken: by another
 * process on this machine, or by another container that won the port
 * (`desiredForwards`: the most recent container wins).
 *
 * - `wait` (default): keep wanting the same port; the forward stays in
 *   conflict and is retried at every resync.
 * - `next-free`: forward to the next free local port above the wanted one
 *   and say so in the forward's reason (as VS Code does).
 *
 * A choice sticks for the life of the forward: it is kept at every resync
 * and across reconnects, and it is not moved back when the wanted port frees
 * later (clients already use the new port). It is forgotten when the
 * container's port disappears (container stopped or removed).
 *
 * Candidate local ports are not filtered by --include-ports/--exclude-ports:
 * those select remote ports. A candidate is skipped when any container's
 * forward wants it, when it is a `--map`/label target, when rdhpf already
 * forwards on it, or when the probe finds it busy on any bind address.
 *
 * The decision is a function of its inputs; the probe (is a port free, who
 * holds it) is passed in, so that tests drive it with a table.
 *
 * @module
 */
import { z } from "zod";
import { MAX_PORT } from "../port.ts";
import type { DesiredForward } from "./desired.ts";
import type { ActiveForward } from "./diff.ts";

export const OnConflictSchema = z.enum(["wait", "next-free"]);
/** The policy for a wanted local port that is taken. */
export type OnConflict = z.infer<typeof OnConflictSchema>;

/** How far above the wanted port `next-free` looks before giving up. */
export const NEXT_FREE_SEARCH_SPAN = 100;

/** A forward moved to another local port, remembered while the forward lives. */
export interface Relocation {
  wantedPort: number;
  localPort: number;
  /** Shown as the forward's reason in status: "wanted 5432 (busy: pid 812 (postgres)); next free". */
  reason: string;
}

/** The local side as the shell sees it. */
export interface PortProbe {
  /** True when the port can be listened on, on every bind address. */
  isFree(port: number): Promise<boolean>;
  /** Who holds a busy port ("pid 812 (postgres)"), or null when the OS will not say. */
  owner(port: number): Promise<string | null>;
}

export interface ConflictInput {
  policy: OnConflict;
  /** Decisions of earlier reconciles, by `forwardKey`. */
  relocations: ReadonlyMap<string, Relocation>;
  /** Forwards the SSH master holds now, by local port: their ports are ours, not busy. */
  active: ReadonlyMap<number, ActiveForward>;
  /** Local ports named by `--map` and `rdhpf.port.N` labels: never chosen as a free port. */
  reservedPorts?: ReadonlySet<number>;
}

export interface ConflictResult {
  forwards: DesiredForward[];
  /** The relocations to remember for the next reconcile. */
  relocations: Map<string, Relocation>;
  /** Relocations decided in this call, for one log line each. */
  decided: Array<Relocation & { containerName: string }>;
}

/** Identity of a forward across reconciles: the container's published port. */
export function forwardKey(f: Pick<DesiredForward, "containerId" | "protocol" | "remotePort">): string {
  return `${f.containerId}/${f.protocol}/${f.remotePort}`;
}

function heldByUs(f: DesiredForward, port: number, active: ReadonlyMap<number, ActiveForward>): boolean {
  const a = active.get(port);
  return a !== undefined && a.containerId === f.containerId && a.remotePort === f.remotePort;
}

/**
 * Applies the conflict policy to the desired forwards. With `wait` the input
 * comes back unchanged and nothing is probed.
 */
export async function resolveConflicts(desired: DesiredForward[], input: ConflictInput, probe: PortProbe): Promise<ConflictResult> {
  if (input.policy === "wait") return { forwards: desired, relocations: new Map(), decided: [] };

  const relocations = new Map<string, Relocation>();
  const decided: ConflictResult["decided"] = [];
  const out = new Map<DesiredForward, DesiredForward>();
  /** Local ports already given to a forward in this call. */
  const taken = new Set<number>();
  // Ports that forwards want by their own number (or mapping) are not up for grabs.
  const claimedByOthers = new Set<number>(input.reservedPorts ?? []);
  for (const d of desired) if (d.disposition === "wanted" || d.disposition === "claimed") claimedByOthers.add(d.localPort);
  const candidates = desired.filter((d) => d.disposition === "wanted" || d.disposition === "claimed");

  const moveTo = (d: DesiredForward, r: Relocation) => {
    relocations.set(forwardKey(d), r);
    taken.add(r.localPort);
    out.set(d, { ...d, localPort: r.localPort, disposition: "wanted", reason: r.reason });
  };

  // 1. Earlier choices stay put while their port is still ours or still free.
  for (const d of candidates) {
    const r = input.relocations.get(forwardKey(d));
    if (!r || r.wantedPort !== d.localPort || taken.has(r.localPort)) continue;
    if (heldByUs(d, r.localPort, input.active) || (!input.active.has(r.localPort) && (await probe.isFree(r.localPort)))) moveTo(d, r);
  }

  // 2. Forwards on their own port: keep it when it is ours or free; else note why not.
  const toMove: Array<{ d: DesiredForward; why: string }> = [];
  for (const d of candidates) {
    if (out.has(d)) continue;
    if (d.disposition === "claimed") {
      toMove.push({ d, why: d.reason?.replace(/^local port \d+ /, "") ?? "claimed by another container" });
    } else if (taken.has(d.localPort)) {
      toMove.push({ d, why: "taken by a forward moved there earlier" });
    } else if (input.active.has(d.localPort) || (await probe.isFree(d.localPort))) {
      taken.add(d.localPort);
    } else {
      const owner = await probe.owner(d.localPort).catch(() => null);
      toMove.push({ d, why: owner ? `busy: ${owner}` : "busy" });
    }
  }

  // 3. The rest go to the next free port above the one they want.
  for (const { d, why } of toMove) {
    const last = Math.min(MAX_PORT, d.localPort + NEXT_FREE_SEARCH_SPAN);
    let chosen: number | null = null;
    for (let p = d.localPort + 1; p <= last && chosen === null; p++) {
      if (taken.has(p) || claimedByOthers.has(p) || input.active.has(p)) continue;
      if (await probe.isFree(p)) chosen = p;
    }
    if (chosen === null) {
      // Nothing free nearby: fall back to waiting for the wanted port.
      const span = last > d.localPort ? `in ${d.localPort + 1}-${last}` : `above ${d.localPort}`;
      out.set(d, { ...d, reason: `local port ${d.localPort} ${why}; no free local port ${span}` });
      continue;
    }
    const r = { wantedPort: d.localPort, localPort: chosen, reason: `wanted ${d.localPort} (${why}); next free` };
    moveTo(d, r);
    decided.push({ ...r, containerName: d.containerName });
  }

  const forwards = desired.map((d) => out.get(d) ?? d);
  forwards.sort((a, b) => a.localPort - b.localPort || a.containerName.localeCompare(b.containerName) || a.protocol.localeCompare(b.protocol));
  return { forwards, relocations, decided };
}
