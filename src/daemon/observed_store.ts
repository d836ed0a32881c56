/**
 * What rdhpf knows of the remote host's running containers between two full
 * lists (the informer pattern): a full `GET /containers/json` at each
 * (re)connect and resync replaces everything; in between, a container event
 * changes only the container it names. A reconcile then costs the API calls
 * for the containers that changed, not a list of all of them.
 *
 * Pure: no I/O, the clock comes in as an argument; the shell
 * (reconciler.ts) fetches and feeds it. See observed_store_test.ts.
 *
 * It also remembers when rdhpf first saw each container, to break ties
 * between containers that Docker says started in the same second: Docker's
 * `Created` has one-second resolution, too coarse to tell which of two
 * started last. A container first seen after the first list counts as
 * started when rdhpf saw it, so "the most recent wins"
 * (forward/desired.ts) holds for them too.
 *
 * @module
 */
import type { EventEffect, ObservedContainer } from "../docker/mod.ts";

/**
 * Several events for one container, folded: only the last one counts,
 * because whatever it asks for reads (or knows) the container's state after
 * all earlier ones. Keeps the order in which containers first appeared.
 */
export function foldEvents(events: ReadonlyArray<{ id: string; effect: EventEffect }>): Map<string, EventEffect> {
  const out = new Map<string, EventEffect>();
  for (const e of events) {
    out.delete(e.id);
    out.set(e.id, e.effect);
  }
  return out;
}

/**
 * The containers to look up again after a full list that started at
 * `listStartedMs`: those with an event less than `windowMs` before it. The
 * Engine sends `die` before its list (a snapshot) shows the container
 * stopped (seen in churn tests with dockerd 20.10), so such a list can bring
 * back a container an event just forgot; `GET /containers/{id}/json` reads
 * the container itself and is right.
 */
export function recheckAfterList(lastEventMs: ReadonlyMap<string, number>, listStartedMs: number, windowMs: number): string[] {
  const out: string[] = [];
  for (const [id, at] of lastEventMs) if (at >= listStartedMs - windowMs) out.push(id);
  return out;
}

interface Entry {
  container: ObservedContainer;
  /** When rdhpf first saw it; 0 for containers of the first list. */
  firstSeenMs: number;
}

export class ObservedStore {
  readonly #byId = new Map<string, Entry>();
  #listedOnce = false;

  get size(): number {
    return this.#byId.size;
  }

  /** Replaces everything with a full list taken at `nowMs`; containers gone from it are forgotten. */
  replaceAll(list: readonly ObservedContainer[], nowMs: number): void {
    const before = new Map(this.#byId);
    this.#byId.clear();
    for (const c of list) this.#byId.set(c.id, { container: c, firstSeenMs: before.get(c.id)?.firstSeenMs ?? (this.#listedOnce ? nowMs : 0) });
    this.#listedOnce = true;
  }

  /** One container as the Engine showed it at `nowMs`; null: not running (or gone). */
  update(id: string, container: ObservedContainer | null, nowMs: number): void {
    if (container === null) {
      this.#byId.delete(id);
      return;
    }
    const firstSeenMs = this.#byId.get(id)?.firstSeenMs ?? (this.#listedOnce ? nowMs : 0);
    this.#byId.set(id, { container, firstSeenMs });
  }

  /** Forgets a container (an event said it is gone). */
  forget(id: string): void {
    this.#byId.delete(id);
  }

  /** The running containers, each `createdS` raised to when rdhpf first saw it. */
  containers(): ObservedContainer[] {
    const out: ObservedContainer[] = [];
    for (const { container: c, firstSeenMs } of this.#byId.values()) {
      out.push(firstSeenMs > 0 ? { ...c, createdS: Math.max(c.createdS, firstSeenMs / 1000) } : c);
    }
    return out;
  }
}
