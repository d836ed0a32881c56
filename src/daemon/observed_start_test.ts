import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ObservedContainer } from "../docker/types.ts";
import { NO_SIGHTINGS, type Sightings, withObservedStart } from "./observed_start.ts";

const c = (id: string, createdS: number): ObservedContainer => ({ id, name: id, labels: {}, createdS, ports: [] });
const seen = (entries: [string, number][]): Sightings => ({ firstSeenMs: new Map(entries), listedOnce: true });

describe("withObservedStart", () => {
  const cases: Array<{ name: string; list: ObservedContainer[]; before: Sightings; nowMs: number; createdS: number[]; after: [string, number][] }> = [
    {
      name: "keeps Docker's times for the containers of the first list",
      list: [c("a", 100), c("b", 100)], before: NO_SIGHTINGS, nowMs: 200_500,
      createdS: [100, 100], after: [["a", 0], ["b", 0]],
    },
    {
      name: "dates a container first seen after the first list to when rdhpf saw it",
      list: [c("a", 100), c("b", 200)], before: seen([["a", 0]]), nowMs: 200_500,
      createdS: [100, 200.5], after: [["a", 0], ["b", 200_500]],
    },
    {
      name: "keeps the first sighting on later lists",
      list: [c("b", 200)], before: seen([["b", 200_500]]), nowMs: 260_000,
      createdS: [200.5], after: [["b", 200_500]],
    },
    {
      name: "never dates a container earlier than Docker does",
      list: [c("b", 300)], before: seen([["b", 200_500]]), nowMs: 300_000,
      createdS: [300], after: [["b", 200_500]],
    },
    {
      name: "forgets containers that are gone, so a reused id counts as new",
      list: [c("a", 100)], before: seen([["a", 0], ["gone", 150_000]]), nowMs: 200_000,
      createdS: [100], after: [["a", 0]],
    },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const r = withObservedStart(t.list, t.before, t.nowMs);
      assert.deepEqual(r.containers.map((x) => x.createdS), t.createdS);
      assert.deepEqual([...r.sightings.firstSeenMs], t.after);
      assert.equal(r.sightings.listedOnce, true);
    });
  }

  it("tells apart two containers started in the same second by the order rdhpf saw them", () => {
    const first = withObservedStart([c("a", 100)], seen([]), 100_200);
    const second = withObservedStart([...first.containers, c("b", 100)], first.sightings, 100_700);
    const [a, b] = second.containers;
    assert.ok(b!.createdS > a!.createdS);
  });
});
