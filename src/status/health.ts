/**
 * What `rdhpf status` exits with: scripts and monitors act on it.
 *
 * @module
 */
import type { StatusDocument } from "./schema.ts";
import type { InstanceView } from "./view.ts";

/** Exit statuses of `rdhpf status` (2, usage error, comes from the CLI layer). */
export const STATUS_EXIT = { healthy: 0, notRunning: 1, degraded: 3 } as const;

/** Health of one instance: `down` unless it answered live. */
export function instanceHealth(view: InstanceView): "healthy" | "degraded" | "down" {
  if (!view.live) return "down";
  if (view.doc.state !== "connected") return "degraded";
  return view.doc.forwards.some((f) => f.state === "conflict") ? "degraded" : "healthy";
}

/**
 * 0 when every live instance is healthy, 3 when any live one is degraded, 1
 * when none answers. Stale instances beside a live one (state files of hosts
 * no longer used) do not change the answer; `--host` checks one on purpose.
 */
export function statusExitCode(views: InstanceView[]): 0 | 1 | 3 {
  const live = views.filter((v) => v.live);
  if (live.length === 0) return STATUS_EXIT.notRunning;
  return live.some((v) => instanceHealth(v) === "degraded") ? STATUS_EXIT.degraded : STATUS_EXIT.healthy;
}

/**
 * Why a running daemon is not healthy, in one line, or null when it is
 * (connected, no forward in conflict): the answer of `/healthz`, by the same
 * rule as `rdhpf status`'s exit status.
 */
export function unhealthyReason(doc: StatusDocument): string | null {
  const why = doc.last_error ? `: ${oneLine(doc.last_error)}` : "";
  if (!doc.ssh.connected) return `not connected to ${oneLine(doc.host)} (state ${doc.state})${why}`;
  const conflicts = doc.forwards.filter((f) => f.state === "conflict");
  if (conflicts.length > 0) return `${conflicts.length} forward(s) in conflict, on local port(s) ${[...new Set(conflicts.map((f) => f.local_port))].join(", ")}`;
  if (doc.state !== "connected") return `state ${doc.state}${why}`;
  return null;
}

const oneLine = (s: string) => s.replace(/[\r\n]+/g, " ");
