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
 * Newer knowledge wins: each change comes with the time it is true as of
 * (a list or look-up: when it was sent; an event: when it arrived), and a
 * change older than what the store already knows of that container, or
 * older than the last full list, is ignored. Reconciles run one at a time,
 * so their own look-ups come in order anyway; this guards the start hold's
 * inspect, sent outside any reconcile, against a stop that arrived (and was
 * applied) while it was under way. A look-up and an event with the same
 * millisecond: the event wins (a `forget` it brings is never wrong for
 * long: a start after it brings an event of its own).
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
 * What a reconcile learns of one container besides a full list: an event's
 * effect, or the container itself as the start hold just inspected it
 * (`effect: "inspected"`, start_hold.ts). `atMs`: when the event arrived, or
 * when the inspect was sent (its answer shows the container at that time
 * or later).
 */
export type ContainerNews =
  | { id: string; effect: EventEffect; atMs: number }
  | { id: string; effect: "inspected"; container: ObservedContainer; atMs: number };

/** What a reconcile does for one container, folded from its news (foldNews). */
export type ContainerStep =
  /** Forget it, as of `atMs`. */
  | { do: "forget"; atMs: number }
  /** Look it up (`GET /containers/{id}/json`), with a request sent after `atMs` (when the event that asks arrived). */
  | { do: "look-up"; atMs: number }
  /**
   * Take `container` as of `atMs`, with no API call. `lookUpNext`: an event
   * arrived after that inspect was sent (the time it arrived), so the next
   * reconcile looks the container up as well; null: the inspect covers all.
   */
  | { do: "take"; container: ObservedContainer; atMs: number; lookUpNext: number | null };

/**
 * Several pieces of news for one container, folded into one step. Among
 * events only the last counts, because whatever it asks for reads (or
 * knows) the container's state after all earlier ones. An inspect covers
 * the events that arrived before it was sent: they happened before it read
 * the container. A `forget` that arrived later wins over it (a stop after
 * the start); a later `inspect` event is looked up in the next reconcile,
 * while this one already takes the inspected container. Keeps the order
 * in which containers last appeared.
 */
export function foldNews(news: readonly ContainerNews[]): Map<string, ContainerStep> {
  const byId = new Map<string, ContainerNews[]>();
  for (const n of news) {
    const mine = byId.get(n.id) ?? [];
    byId.delete(n.id);
    mine.push(n);
    byId.set(n.id, mine);
  }
  const out = new Map<string, ContainerStep>();
  for (const [id, mine] of byId) out.set(id, foldOne(mine));
  return out;
}

function foldOne(news: readonly ContainerNews[]): ContainerStep {
  let inspected: Extract<ContainerNews, { effect: "inspected" }> | null = null;
  for (const n of news) if (n.effect === "inspected" && (inspected === null || n.atMs >= inspected.atMs)) inspected = n;
  // An event that arrived in the same millisecond as the inspect was sent may be newer than its answer: counted as later.
  const later = news.filter((n) => n.effect !== "inspected" && (inspected === null || n.atMs >= inspected.atMs));
  const last = later.at(-1);
  if (inspected === null) {
    const asking = last!; // without an inspect, every piece of news is an event
    return asking.effect === "forget" ? { do: "forget", atMs: asking.atMs } : { do: "look-up", atMs: asking.atMs };
  }
  if (last?.effect === "forget") return { do: "forget", atMs: last.atMs };
  return { do: "take", container: inspected.container, atMs: inspected.atMs, lookUpNext: last?.atMs ?? null };
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
  /** When the last full list was sent; nothing older applies. */
  #listedAtMs = Number.NEGATIVE_INFINITY;
  /** Per container changed since that list: as of when, and whether an event (a forget) said so. */
  readonly #knownAt = new Map<string, { atMs: number; byEvent: boolean }>();

  get size(): number {
    return this.#byId.size;
  }

  /** Replaces everything with a full list sent at `nowMs`; containers gone from it are forgotten. */
  replaceAll(list: readonly ObservedContainer[], nowMs: number): void {
    const before = new Map(this.#byId);
    this.#byId.clear();
    for (const c of list) this.#byId.set(c.id, { container: c, firstSeenMs: before.get(c.id)?.firstSeenMs ?? (this.#listedOnce ? nowMs : 0) });
    this.#listedOnce = true;
    this.#listedAtMs = nowMs;
    this.#knownAt.clear();
  }

  /** True when nothing changed the store since the last full list: it holds that list as it was. */
  get unchangedSinceList(): boolean {
    return this.#listedOnce && this.#knownAt.size === 0;
  }

  /**
   * A full list sent at `nowMs` showed exactly what the last one did, and the
   * store is unchanged since (`unchangedSinceList`): the same as
   * `replaceAll` with that list, without rebuilding anything.
   */
  confirmList(nowMs: number): void {
    this.#listedAtMs = nowMs;
  }

  /**
   * One container as the Engine showed it to a request sent at `nowMs`;
   * null: not running (or gone). False (and nothing changed) when the store
   * knows something newer of it.
   */
  update(id: string, container: ObservedContainer | null, nowMs: number): boolean {
    const known = this.#knownAt.get(id);
    if (nowMs < this.#listedAtMs || (known && (nowMs < known.atMs || (nowMs === known.atMs && known.byEvent)))) return false;
    this.#knownAt.set(id, { atMs: nowMs, byEvent: false });
    if (container === null) {
      this.#byId.delete(id);
      return true;
    }
    const firstSeenMs = this.#byId.get(id)?.firstSeenMs ?? (this.#listedOnce ? nowMs : 0);
    this.#byId.set(id, { container, firstSeenMs });
    return true;
  }

  /** Forgets a container: an event that arrived at `atMs` said it is gone. False when the store knows something newer of it. */
  forget(id: string, atMs: number): boolean {
    const known = this.#knownAt.get(id);
    if (atMs < this.#listedAtMs || (known && atMs < known.atMs)) return false;
    this.#knownAt.set(id, { atMs, byEvent: true });
    this.#byId.delete(id);
    return true;
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
