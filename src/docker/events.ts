/**
 * Which Engine events mean "the set of published ports may have changed".
 * The daemon answers such an event with a fresh container list (level
 * triggered), so an event only needs to be recognised, not interpreted.
 *
 * @module
 */
import type { DockerEvent } from "./schemas.ts";

/**
 * Actions after which a container starts or stops holding its ports, or
 * changes the name rdhpf shows. Deliberately excluded: `create` (a created
 * container binds nothing until `start`), `exec_*`, `health_status`,
 * `attach`, `top`, `resize`, `oom` (a `die` follows), `update`, `commit`,
 * `copy`, `export`: none of them changes a binding.
 */
export const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set([
  "start",
  "die",
  "stop",
  "kill",
  "pause",
  "unpause",
  "restart",
  "destroy",
  "rename",
]);

/**
 * The action without its detail: "exec_start: sh -c ls" → "exec_start",
 * "health_status: healthy" → "health_status". Falls back to the pre-1.22
 * `status` field.
 */
export function eventAction(e: DockerEvent): string {
  const action = e.Action ?? e.status ?? "";
  const colon = action.indexOf(":");
  return (colon === -1 ? action : action.slice(0, colon)).trim();
}

/** The container the event is about, or null when the event names none. */
export function eventContainerId(e: DockerEvent): string | null {
  const id = e.Actor?.ID || e.id;
  return id ? id : null;
}

/** True when the event should trigger a resync of the container list. */
export function isContainerLifecycleEvent(e: DockerEvent): boolean {
  // Events without Type predate API 1.22 and were all container events.
  if ((e.Type ?? "container") !== "container") return false;
  return LIFECYCLE_ACTIONS.has(eventAction(e)) && eventContainerId(e) !== null;
}
