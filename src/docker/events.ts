/**
 * What a container event means for the containers rdhpf observes. The
 * daemon keeps an observed state between full lists (daemon/observed_store.ts)
 * and changes, per event, only the container the event names: forgets it, or
 * looks it up with `GET /containers/{id}/json`.
 *
 * @module
 */
import type { DockerEvent } from "./schemas.ts";

/** What a container event asks of the observed state. */
export type EventEffect =
  /** The container no longer holds its ports: forget it, no API call needed. */
  | "forget"
  /** Its state, ports or name may have changed: look this one container up. */
  | "inspect";

/**
 * Actions after which a container starts or stops holding its ports, or
 * changes the name rdhpf shows, and what each asks for.
 *
 * `die` is sent once the container has stopped (its ports are released with
 * it), `stop` after `die`, `destroy` after removal: each means "gone" by
 * itself. A paused container keeps its port bindings (Docker leaves the
 * mapping in place and `docker ps` still lists it), so `pause` is looked up,
 * not forgotten, like `unpause`, `start`, `restart`, `rename` and `kill`
 * (which may not stop the container: a signal it handles).
 *
 * Deliberately absent: `create` (a created container binds nothing until
 * `start`), `exec_*`, `health_status`, `attach`, `top`, `resize`, `oom` (a
 * `die` follows), `update`, `commit`, `copy`, `export`: none of them changes
 * a binding.
 */
export const LIFECYCLE_EFFECTS: ReadonlyMap<string, EventEffect> = new Map<string, EventEffect>([
  ["start", "inspect"],
  ["die", "forget"],
  ["stop", "forget"],
  ["kill", "inspect"],
  ["pause", "inspect"],
  ["unpause", "inspect"],
  ["restart", "inspect"],
  ["destroy", "forget"],
  ["rename", "inspect"],
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

/** The container a lifecycle event names and what it asks for; null for any other event. */
export function containerEventEffect(e: DockerEvent): { id: string; effect: EventEffect } | null {
  // Events without Type predate API 1.22 and were all container events.
  if ((e.Type ?? "container") !== "container") return null;
  const effect = LIFECYCLE_EFFECTS.get(eventAction(e));
  const id = eventContainerId(e);
  return effect && id ? { id, effect } : null;
}

/** True when the event may change the containers' published ports (see LIFECYCLE_EFFECTS). */
export function isContainerLifecycleEvent(e: DockerEvent): boolean {
  return containerEventEffect(e) !== null;
}
