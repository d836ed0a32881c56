/**
 * The desired state: which local forwards should exist, as a pure function of
 * the running containers and the user's rules. Everything that is not
 * forwarded is still listed, with a state and a reason, so that status never
 * hides a published port.
 *
 * @module
 */
import { z } from "zod";
import type { ObservedContainer, PublishedPort } from "../docker/mod.ts";
import { excludedBy, isIgnored, localPortFor, type PortRules } from "./rules.ts";

export const DesiredForwardSchema = z.object({
  containerId: z.string(),
  containerName: z.string(),
  /** Created time of the container (unix s): the newest wins a local port. */
  containerCreatedS: z.number(),
  localPort: z.number().int(),
  remoteHost: z.string(),
  remotePort: z.number().int(),
  protocol: z.enum(["tcp", "udp", "sctp"]),
  /** "wanted": should be forwarded; the others are reported only. */
  disposition: z.enum(["wanted", "unsupported", "ignored", "claimed"]),
  reason: z.string().nullable(),
  /** A rule the user wrote that could not apply as written (also the reason of a wanted forward): worth one warning. */
  ruleNote: z.string().optional(),
});
export type DesiredForward = z.infer<typeof DesiredForwardSchema>;

/**
 * Where the remote end of a forward connects, seen from the remote sshd.
 * A wildcard binding (0.0.0.0, ::, or empty on old engines) is reachable on
 * the remote loopback; a specific address only on that address.
 */
export function remoteHostFor(hostIp: string): string {
  if (hostIp === "" || hostIp === "0.0.0.0" || hostIp === "::" || hostIp === "[::]") return "127.0.0.1";
  return hostIp.replace(/^\[(.*)\]$/, "$1");
}

function isWildcard(hostIp: string): boolean {
  return remoteHostFor(hostIp) === "127.0.0.1" && hostIp !== "127.0.0.1";
}

/**
 * One entry per (container, protocol, published port): a port bound on both
 * 0.0.0.0 and :: is one forward. Among several bindings of the same port the
 * wildcard one is preferred because it is reachable on the remote loopback.
 */
function uniqueBindings(ports: PublishedPort[]): PublishedPort[] {
  const byKey = new Map<string, PublishedPort>();
  for (const p of ports) {
    const key = `${p.protocol}/${p.publicPort}`;
    const seen = byKey.get(key);
    if (!seen || (!isWildcard(seen.hostIp) && isWildcard(p.hostIp))) byKey.set(key, p);
  }
  return [...byKey.values()];
}

/**
 * Default of `--max-forwards`: forwards (local ports) per host. Each one is a
 * listener per local address in the SSH master (two with 127.0.0.1 and ::1),
 * so the default keeps the master under ~8,200 listening sockets.
 */
export const DEFAULT_MAX_FORWARDS = 4096;

/** A value of `--max-forwards` / `maxForwards`: there are only 65,535 local ports. */
export const MaxForwardsSchema = z.number().int().min(1).max(65535);

/** Why a forward over the cap is not forwarded, as status shows it. */
export function overCapReason(maxForwards: number): string {
  return `over the limit of ${maxForwards} forwards for this host (--max-forwards); older containers and lower ports are kept`;
}

/**
 * Keeps at most `maxForwards` wanted forwards; the rest become "ignored"
 * with a reason. Older containers keep theirs first, then lower local
 * ports, so a container started later (hostile or mistaken) cannot push
 * out forwards that already work, and the choice is the same every run.
 */
export function capForwards(forwards: DesiredForward[], maxForwards: number): DesiredForward[] {
  const wanted = forwards.filter((f) => f.disposition === "wanted");
  if (wanted.length <= maxForwards) return forwards;
  const kept = new Set(
    wanted
      .sort((a, b) => a.containerCreatedS - b.containerCreatedS || (a.containerId < b.containerId ? -1 : a.containerId > b.containerId ? 1 : 0) || a.localPort - b.localPort)
      .slice(0, maxForwards),
  );
  const reason = overCapReason(maxForwards);
  return forwards.map((f) => (f.disposition !== "wanted" || kept.has(f) ? f : { ...f, disposition: "ignored" as const, reason }));
}

/**
 * Computes the desired forwards. Ordering is stable (by local port, then
 * container name) so that logs and status read the same run after run.
 * At most `maxForwards` are wanted (see `capForwards`).
 */
export function desiredForwards(containers: ObservedContainer[], rules: PortRules, maxForwards = DEFAULT_MAX_FORWARDS): DesiredForward[] {
  const out: DesiredForward[] = [];
  for (const c of containers) {
    const ignored = isIgnored(c.labels);
    for (const p of uniqueBindings(c.ports)) {
      const local = localPortFor(p.publicPort, c.labels, rules);
      const base = {
        containerId: c.id,
        containerName: c.name,
        containerCreatedS: c.createdS,
        localPort: local.port,
        remoteHost: remoteHostFor(p.hostIp),
        remotePort: p.publicPort,
        protocol: p.protocol,
      };
      if (p.protocol !== "tcp") {
        out.push({ ...base, disposition: "unsupported", reason: `${p.protocol.toUpperCase()} cannot travel over SSH port forwarding` });
      } else if (ignored) {
        out.push({ ...base, disposition: "ignored", reason: "container has label rdhpf.ignore=true" });
      } else {
        const excluded = excludedBy(p.publicPort, rules);
        out.push(excluded ? { ...base, disposition: "ignored", reason: excluded } : { ...base, disposition: "wanted", reason: local.note, ...(local.note ? { ruleNote: local.note } : {}) });
      }
    }
  }
  // Two containers that want the same local port: the most recently created wins.
  const winner = new Map<number, DesiredForward>();
  for (const f of out) {
    if (f.disposition !== "wanted") continue;
    const w = winner.get(f.localPort);
    if (!w || f.containerCreatedS > w.containerCreatedS || (f.containerCreatedS === w.containerCreatedS && f.containerId > w.containerId)) {
      winner.set(f.localPort, f);
    }
  }
  const result = capForwards(out.map((f) => {
    if (f.disposition !== "wanted") return f;
    const w = winner.get(f.localPort)!;
    return w === f ? f : { ...f, disposition: "claimed" as const, reason: `local port ${f.localPort} claimed by ${w.containerName}` };
  }), maxForwards);
  return result.sort((a, b) => a.localPort - b.localPort || a.containerName.localeCompare(b.containerName) || a.protocol.localeCompare(b.protocol));
}
