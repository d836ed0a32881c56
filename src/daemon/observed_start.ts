/**
 * When rdhpf first saw each container, to break ties between containers that
 * Docker says started in the same second. Docker's `Created` has one-second
 * resolution, too coarse to tell which of two containers started last; a
 * container first seen after rdhpf's first list counts as started when rdhpf
 * saw it, so "the most recent wins" (forward/desired.ts) holds for them too.
 * Pure: the memory goes in and comes out, see observed_start_test.ts.
 *
 * @module
 */
import type { ObservedContainer } from "../docker/mod.ts";

/** First sightings by container id; 0 for containers already there at the first list. */
export interface Sightings {
  firstSeenMs: ReadonlyMap<string, number>;
  /** Whether a list was seen before: containers of the first one are not "new". */
  listedOnce: boolean;
}

export const NO_SIGHTINGS: Sightings = { firstSeenMs: new Map(), listedOnce: false };

/**
 * The containers of a list taken at `nowMs`, each `createdS` raised to when
 * rdhpf first saw it, and the sightings to pass to the next call (gone
 * containers forgotten).
 */
export function withObservedStart(containers: ObservedContainer[], before: Sightings, nowMs: number): { containers: ObservedContainer[]; sightings: Sightings } {
  const firstSeenMs = new Map<string, number>();
  const out = containers.map((c) => {
    const seen = before.firstSeenMs.get(c.id) ?? (before.listedOnce ? nowMs : 0);
    firstSeenMs.set(c.id, seen);
    return seen > 0 ? { ...c, createdS: Math.max(c.createdS, seen / 1000) } : c;
  });
  return { containers: out, sightings: { firstSeenMs, listedOnce: true } };
}
