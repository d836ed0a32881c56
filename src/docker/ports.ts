/**
 * Maps Engine API container payloads to `ObservedContainer`, using the
 * bindings Docker actually made (`Ports` of `/containers/json`,
 * `NetworkSettings.Ports` of `/containers/{id}/json`), never the requested
 * `HostConfig.PortBindings`: for `-P`, `-p 0:80` and `-p 127.0.0.1::80` only
 * the former hold the port Docker assigned.
 *
 * @module
 */
import { isPort } from "../port.ts";
import type { ContainerInspect, ContainerSummary } from "./schemas.ts";
import type { ObservedContainer, PublishedPort } from "./types.ts";

const PROTOCOLS = new Set<PublishedPort["protocol"]>(["tcp", "udp", "sctp"]);

function isProtocol(s: string): s is PublishedPort["protocol"] {
  return PROTOCOLS.has(s as PublishedPort["protocol"]);
}

/** Locale-independent order, so output is the same on every machine. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Stable order and no exact duplicates, so that the same container reads the
 * same from the list and from inspect. A port bound on 0.0.0.0 and :: stays
 * two entries here: merging them is the forwarding core's decision.
 */
function normalizePorts(ports: PublishedPort[]): PublishedPort[] {
  const seen = new Map<string, PublishedPort>();
  for (const p of ports) seen.set(`${p.protocol}/${p.publicPort}/${p.hostIp}/${p.privatePort}`, p);
  return [...seen.values()].sort(
    (a, b) =>
      a.publicPort - b.publicPort ||
      byCodePoint(a.protocol, b.protocol) ||
      byCodePoint(a.hostIp, b.hostIp) ||
      a.privatePort - b.privatePort,
  );
}

/**
 * Longest container name rdhpf keeps. dockerd only creates names of
 * [a-zA-Z0-9][a-zA-Z0-9_.-]*, but a compromised engine can send megabytes,
 * which would otherwise be copied into every status document and state file.
 */
export const MAX_NAME_CHARS = 256;

/**
 * The container's own name without the leading "/". Legacy `--link` adds
 * names like "/other/alias" to the list; the canonical one has no inner "/".
 * Falls back to the short id when the Engine sends no name. A name longer
 * than MAX_NAME_CHARS code points is cut and ends in "…".
 */
export function canonicalName(names: readonly string[], id: string): string {
  const stripped = names.map((n) => n.replace(/^\//, ""));
  const name = stripped.find((n) => n !== "" && !n.includes("/")) ?? stripped.find((n) => n !== "") ?? id.slice(0, 12);
  if (name.length <= MAX_NAME_CHARS) return name;
  // Code points, so that a surrogate pair is never split; two UTF-16 units each at most.
  const points = Array.from(name.slice(0, 2 * MAX_NAME_CHARS + 2));
  return points.length <= MAX_NAME_CHARS ? points.join("") : `${points.slice(0, MAX_NAME_CHARS - 1).join("")}…`;
}

/** Maps one item of `GET /containers/json`. Entries without `PublicPort` (exposed only) are skipped. */
export function containerFromSummary(item: ContainerSummary): ObservedContainer {
  const ports: PublishedPort[] = [];
  for (const p of item.Ports ?? []) {
    if (p.PublicPort === undefined || !isPort(p.PublicPort) || !isPort(p.PrivatePort) || !isProtocol(p.Type)) continue;
    ports.push({ privatePort: p.PrivatePort, publicPort: p.PublicPort, hostIp: p.IP ?? "", protocol: p.Type });
  }
  return {
    id: item.Id,
    name: canonicalName(item.Names ?? [], item.Id),
    labels: item.Labels ?? {},
    createdS: item.Created,
    ports: normalizePorts(ports),
  };
}

/** "80/tcp" → { port: 80, protocol: "tcp" }; a bare "80" means tcp. */
function parsePortKey(key: string): { port: number; protocol: string } | null {
  const m = /^(\d{1,5})(?:\/([a-z]+))?$/.exec(key);
  if (!m) return null;
  return { port: Number(m[1]), protocol: m[2] ?? "tcp" };
}

/** RFC 3339 (with nanoseconds) → unix seconds; 0 when missing or unparsable. */
function unixSeconds(rfc3339: string | undefined): number {
  const ms = rfc3339 ? Date.parse(rfc3339) : Number.NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/**
 * Maps `GET /containers/{id}/json`. A `null` binding list (exposed only) and
 * bindings without a host port are skipped. The caller decides what a
 * container that is not running means; its `NetworkSettings.Ports` is empty.
 */
export function containerFromInspect(payload: ContainerInspect): ObservedContainer {
  const ports: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(payload.NetworkSettings?.Ports ?? {})) {
    const parsed = parsePortKey(key);
    if (!parsed || !isPort(parsed.port) || !isProtocol(parsed.protocol)) continue;
    for (const b of bindings ?? []) {
      const hostPort = /^\d{1,5}$/.test(b.HostPort ?? "") ? Number(b.HostPort) : 0;
      if (!isPort(hostPort)) continue;
      ports.push({ privatePort: parsed.port, publicPort: hostPort, hostIp: b.HostIp ?? "", protocol: parsed.protocol });
    }
  }
  return {
    id: payload.Id,
    name: canonicalName(payload.Name === undefined ? [] : [payload.Name], payload.Id),
    labels: payload.Config?.Labels ?? {},
    createdS: unixSeconds(payload.Created),
    ports: normalizePorts(ports),
  };
}
