/**
 * What `rdhpf status` exits with: scripts and monitors act on it.
 *
 * @module
 */
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
