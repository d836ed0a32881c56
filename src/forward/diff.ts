/**
 * The reconciler's plan: compare desired forwards with the ones the SSH
 * master holds and list what to cancel and what to add. Pure; the applier
 * executes the plan.
 *
 * Forwards are keyed by local port, the scarce resource: one local port can
 * carry one forward.
 *
 * @module
 */
import type { DesiredForward } from "./desired.ts";

/** A forward that the SSH master currently holds. */
export interface ActiveForward {
  localPort: number;
  remoteHost: string;
  remotePort: number;
  /** Local addresses the master listens on for this forward. */
  bindAddresses: string[];
  containerId: string;
  containerName: string;
  /** When the forward became active (ms since epoch). */
  sinceMs: number;
  /** Why it is not on the port it wanted (--on-conflict next-free); absent otherwise. */
  reason?: string | null;
}

export interface ForwardPlan {
  /** Forwards to cancel, each with the end reason shown in history. */
  remove: Array<{ forward: ActiveForward; reason: string }>;
  /** Wanted forwards to add. */
  add: DesiredForward[];
  /**
   * Active forwards whose remote end is unchanged but whose container changed,
   * or was renamed: no SSH operation needed, only the name and id shown.
   */
  adopt: Array<{ forward: ActiveForward; by: DesiredForward }>;
}

function sameEnds(a: ActiveForward, d: DesiredForward): boolean {
  return a.remoteHost === d.remoteHost && a.remotePort === d.remotePort;
}

function endReason(localPort: number, desired: DesiredForward[]): string {
  const other = desired.find((d) => d.localPort === localPort && d.disposition !== "wanted");
  if (other?.disposition === "claimed") return `port claimed by ${desired.find((d) => d.localPort === localPort && d.disposition === "wanted")?.containerName ?? "another container"}`;
  if (other?.disposition === "ignored") return other.reason ?? "ignored";
  return "container stopped";
}

/** Plans the changes that turn `active` into `desired`. */
export function planForwards(desired: DesiredForward[], active: ReadonlyMap<number, ActiveForward>): ForwardPlan {
  const wanted = new Map<number, DesiredForward>();
  for (const d of desired) if (d.disposition === "wanted") wanted.set(d.localPort, d);

  const plan: ForwardPlan = { remove: [], add: [], adopt: [] };
  for (const [port, a] of active) {
    const d = wanted.get(port);
    if (!d) {
      plan.remove.push({ forward: a, reason: endReason(port, desired) });
    } else if (!sameEnds(a, d)) {
      plan.remove.push({ forward: a, reason: d.containerId === a.containerId ? "remote end changed" : `port claimed by ${d.containerName}` });
      plan.add.push(d);
    } else if (d.containerId !== a.containerId || d.containerName !== a.containerName) {
      plan.adopt.push({ forward: a, by: d });
    }
  }
  for (const [port, d] of wanted) if (!active.has(port)) plan.add.push(d);
  plan.add.sort((a, b) => a.localPort - b.localPort);
  plan.remove.sort((a, b) => a.forward.localPort - b.forward.localPort);
  return plan;
}
