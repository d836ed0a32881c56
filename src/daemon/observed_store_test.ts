import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ObservedContainer } from "../docker/types.ts";
import { type EventEffect, LIFECYCLE_EFFECTS } from "../docker/events.ts";
import { type ContainerNews, foldNews, ObservedStore, recheckAfterList } from "./observed_store.ts";

const c = (id: string, createdS = 100, name = id, port = 8000): ObservedContainer => ({
  id, name, labels: {}, createdS, ports: [{ privatePort: 80, publicPort: port, hostIp: "0.0.0.0", protocol: "tcp" }],
});

/** One step the shell takes: a full list, an event's effect, or an inspect's answer. */
type Step =
  | { list: ObservedContainer[]; atMs?: number }
  | { event: string; id: string; inspected?: ObservedContainer | null; atMs?: number };

/** Plays the steps as the reconciler does: forget on "forget", the inspect answer on "inspect". A step without a time comes 1 ms after the one before. */
function play(steps: Step[]): ObservedStore {
  const store = new ObservedStore();
  let at = 1_000_000;
  for (const s of steps) {
    at = s.atMs ?? at + 1;
    if ("list" in s) {
      store.replaceAll(s.list, at);
      continue;
    }
    const effect = LIFECYCLE_EFFECTS.get(s.event);
    if (effect === "forget") store.forget(s.id, at);
    else if (effect === "inspect") store.update(s.id, s.inspected ?? null, at);
  }
  return store;
}

const view = (store: ObservedStore) => store.containers().map((x) => `${x.name}:${x.ports.map((p) => p.publicPort).join(",")}`).sort();

describe("ObservedStore: container events change only the container they name", () => {
  const cases: Array<{ name: string; steps: Step[]; want: string[] }> = [
    { name: "the first list is the starting point", steps: [{ list: [c("a"), c("b", 100, "b", 8001)] }], want: ["a:8000", "b:8001"] },
    { name: "start adds the container as inspected", steps: [{ list: [c("a")] }, { event: "start", id: "n", inspected: c("n", 100, "n", 9000) }], want: ["a:8000", "n:9000"] },
    { name: "start of a container that already exited adds nothing", steps: [{ list: [c("a")] }, { event: "start", id: "n", inspected: null }], want: ["a:8000"] },
    { name: "die forgets the container without asking the Engine", steps: [{ list: [c("a"), c("b", 100, "b", 8001)] }, { event: "die", id: "a" }], want: ["b:8001"] },
    { name: "stop forgets it", steps: [{ list: [c("a")] }, { event: "stop", id: "a" }], want: [] },
    { name: "destroy forgets it", steps: [{ list: [c("a")] }, { event: "destroy", id: "a" }], want: [] },
    { name: "an event for a container never seen is harmless", steps: [{ list: [c("a")] }, { event: "destroy", id: "zzz" }], want: ["a:8000"] },
    { name: "rename keeps the ports under the new name", steps: [{ list: [c("a", 100, "old")] }, { event: "rename", id: "a", inspected: c("a", 100, "new") }], want: ["new:8000"] },
    { name: "pause keeps the forwards: Docker keeps a paused container's ports", steps: [{ list: [c("a")] }, { event: "pause", id: "a", inspected: c("a") }], want: ["a:8000"] },
    { name: "unpause after pause keeps them too", steps: [{ list: [c("a")] }, { event: "pause", id: "a", inspected: c("a") }, { event: "unpause", id: "a", inspected: c("a") }], want: ["a:8000"] },
    {
      name: "restart (die, start, restart) ends with the container and its new ports",
      steps: [{ list: [c("a")] }, { event: "die", id: "a" }, { event: "start", id: "a", inspected: c("a", 100, "a", 8005) }, { event: "restart", id: "a", inspected: c("a", 100, "a", 8005) }],
      want: ["a:8005"],
    },
    { name: "kill of a container that keeps running keeps it", steps: [{ list: [c("a")] }, { event: "kill", id: "a", inspected: c("a") }], want: ["a:8000"] },
    { name: "create, exec and health events change nothing", steps: [{ list: [c("a")] }, { event: "create", id: "a" }, { event: "exec_start", id: "a" }, { event: "health_status", id: "a" }], want: ["a:8000"] },
    {
      name: "events lost while rdhpf was stopped: the resync list repairs the store",
      steps: [{ list: [c("a"), c("b", 100, "b", 8001)] }, { list: [c("b", 100, "b", 8001), c("n", 100, "n", 9000)] }],
      want: ["b:8001", "n:9000"],
    },
  ];
  for (const t of cases) it(t.name, () => assert.deepEqual(view(play(t.steps)), t.want));
});

describe("ObservedStore: when rdhpf first saw each container", () => {
  it("keeps Docker's times for the containers of the first list", () => {
    const s = play([{ list: [c("a", 100), c("b", 100)], atMs: 200_500 }]);
    assert.deepEqual(s.containers().map((x) => x.createdS), [100, 100]);
  });

  it("dates a container first seen after the first list, by an event or a list, to when rdhpf saw it", () => {
    const s = play([{ list: [c("a", 100)], atMs: 200_000 }, { event: "start", id: "b", inspected: c("b", 200), atMs: 200_500 }, { list: [c("a", 100), c("b", 200), c("d", 200)], atMs: 260_000 }]);
    assert.deepEqual(s.containers().map((x) => [x.id, x.createdS]), [["a", 100], ["b", 200.5], ["d", 260]]);
  });

  it("never dates a container earlier than Docker does", () => {
    const s = play([{ list: [], atMs: 200_000 }, { event: "start", id: "b", inspected: c("b", 300), atMs: 200_500 }]);
    assert.equal(s.containers()[0]!.createdS, 300);
  });

  it("forgets a container that is gone, so a reused id counts as new", () => {
    const s = play([{ list: [c("a", 100)], atMs: 100_000 }, { event: "destroy", id: "a" }, { event: "start", id: "a", inspected: c("a", 100), atMs: 150_000 }]);
    assert.equal(s.containers()[0]!.createdS, 150);
  });

  it("tells apart two containers started in the same second by the order rdhpf saw them", () => {
    const s = play([{ list: [], atMs: 100_000 }, { event: "start", id: "a", inspected: c("a", 100), atMs: 100_200 }, { event: "start", id: "b", inspected: c("b", 100), atMs: 100_700 }]);
    const [a, b] = s.containers();
    assert.ok(b!.createdS > a!.createdS);
  });
});

describe("ObservedStore: newer knowledge wins", () => {
  it("ignores an inspect sent before a stop that was already applied", () => {
    const s = new ObservedStore();
    s.replaceAll([], 1_000);
    assert.equal(s.forget("a", 1_020), true);
    assert.equal(s.update("a", c("a"), 1_010), false);
    assert.deepEqual(view(s), []);
  });
  it("takes an inspect sent after the stop arrived: the container was started again", () => {
    const s = new ObservedStore();
    s.replaceAll([], 1_000);
    s.forget("a", 1_020);
    assert.equal(s.update("a", c("a"), 1_030), true);
    assert.deepEqual(view(s), ["a:8000"]);
  });
  it("lets a stop that arrived after an inspect was sent win over its answer", () => {
    const s = new ObservedStore();
    s.replaceAll([], 1_000);
    s.update("a", c("a"), 1_010);
    assert.equal(s.forget("a", 1_020), true);
    assert.deepEqual(view(s), []);
  });
  it("keeps a newer look-up over an older inspect's answer", () => {
    const s = new ObservedStore();
    s.replaceAll([], 1_000);
    s.update("a", c("a", 100, "a", 8001), 1_030);
    assert.equal(s.update("a", c("a", 100, "a", 8000), 1_010), false);
    assert.deepEqual(view(s), ["a:8001"]);
  });
  it("in the same millisecond, the stop wins over the look-up", () => {
    const s = new ObservedStore();
    s.replaceAll([], 1_000);
    s.forget("a", 1_010);
    assert.equal(s.update("a", c("a"), 1_010), false);
    s.update("b", c("b", 100, "b", 8001), 1_010);
    assert.equal(s.forget("b", 1_010), true);
    assert.deepEqual(view(s), []);
  });
  it("ignores what is older than the last full list", () => {
    const s = new ObservedStore();
    s.replaceAll([c("a")], 1_000);
    assert.equal(s.forget("a", 990), false);
    assert.equal(s.update("b", c("b", 100, "b", 8001), 999), false);
    assert.deepEqual(view(s), ["a:8000"]);
  });
});

describe("foldNews", () => {
  const e = (id: string, effect: EventEffect, atMs = 0): ContainerNews => ({ id, effect, atMs });
  const inspected = (id: string, atMs: number, port = 8000): ContainerNews => ({ id, effect: "inspected", container: c(id, 100, id, port), atMs });
  const steps = (news: ContainerNews[]) => [...foldNews(news)].map(([id, s]) => [id, s.do === "take" ? `take :${s.container.ports[0]!.publicPort}${s.lookUpNext === null ? "" : `, look up after ${s.lookUpNext}`}` : s.do]);

  it("keeps the last event per container", () => {
    assert.deepEqual(steps([e("a", "inspect"), e("b", "forget"), e("a", "forget")]), [["b", "forget"], ["a", "forget"]]);
  });
  it("a start after a die is looked up, not forgotten", () => {
    assert.deepEqual(steps([e("a", "forget", 5), e("a", "inspect", 7)]), [["a", "look-up"]]);
    assert.deepEqual(foldNews([e("a", "forget", 5), e("a", "inspect", 7)]).get("a"), { do: "look-up", atMs: 7 });
  });
  it("takes the start hold's inspect without a look-up", () => {
    assert.deepEqual(steps([inspected("a", 100)]), [["a", "take :8000"]]);
  });
  it("the inspect covers the start event that arrived before it was sent", () => {
    assert.deepEqual(steps([e("a", "inspect", 95), inspected("a", 100)]), [["a", "take :8000"]]);
  });
  it("an event that arrived after the inspect was sent is looked up next, while the inspect is taken now", () => {
    assert.deepEqual(steps([e("a", "inspect", 103), inspected("a", 100)]), [["a", "take :8000, look up after 103"]]);
  });
  it("an event in the same millisecond as the inspect was sent counts as later", () => {
    assert.deepEqual(steps([inspected("a", 100), e("a", "inspect", 100)]), [["a", "take :8000, look up after 100"]]);
  });
  it("a stop that arrived after the inspect was sent wins over it", () => {
    const folded = foldNews([inspected("a", 100), e("a", "forget", 104)]);
    assert.deepEqual(folded.get("a"), { do: "forget", atMs: 104 });
  });
  it("a stop that arrived before the inspect was sent is covered by it (started again)", () => {
    assert.deepEqual(steps([e("a", "forget", 90), e("a", "inspect", 92), inspected("a", 100)]), [["a", "take :8000"]]);
  });
  it("of two inspects, the one sent last counts", () => {
    assert.deepEqual(steps([inspected("a", 110, 8001), inspected("a", 100, 8000)]), [["a", "take :8001"]]);
  });
  it("leaves other containers' events alone", () => {
    assert.deepEqual(steps([e("b", "inspect", 101), inspected("a", 100)]), [["b", "look-up"], ["a", "take :8000"]]);
  });
});

describe("recheckAfterList", () => {
  it("names the containers with an event shortly before the list, whose snapshot may predate it", () => {
    const last = new Map([["old", 1_000], ["recent", 9_500], ["during", 10_020]]);
    assert.deepEqual(recheckAfterList(last, 10_000, 1_000), ["recent", "during"]);
  });
  it("names none when nothing happened lately", () => {
    assert.deepEqual(recheckAfterList(new Map([["a", 1_000]]), 10_000, 1_000), []);
  });
});

describe("ObservedStore: a list equal to the last one", () => {
  it("counts as unchanged only after a list and until something is learnt", () => {
    const s = new ObservedStore();
    assert.equal(s.unchangedSinceList, false);
    s.replaceAll([c("a")], 1_000);
    assert.equal(s.unchangedSinceList, true);
    s.update("b", c("b", 100, "b", 8001), 1_010);
    assert.equal(s.unchangedSinceList, false);
    s.replaceAll([c("a")], 2_000);
    s.forget("a", 2_010);
    assert.equal(s.unchangedSinceList, false);
  });
  it("a refused change leaves it unchanged", () => {
    const s = new ObservedStore();
    s.replaceAll([c("a")], 1_000);
    assert.equal(s.update("a", null, 900), false);
    assert.equal(s.unchangedSinceList, true);
  });
  it("confirming the list moves its time on like replacing it would: older news is ignored after it", () => {
    const confirmed = new ObservedStore();
    const replaced = new ObservedStore();
    confirmed.replaceAll([c("a")], 1_000);
    replaced.replaceAll([c("a")], 1_000);
    confirmed.confirmList(2_000);
    replaced.replaceAll([c("a")], 2_000);
    for (const s of [confirmed, replaced]) {
      assert.equal(s.forget("a", 1_500), false);
      assert.deepEqual(view(s), ["a:8000"]);
      assert.equal(s.forget("a", 2_500), true);
      assert.deepEqual(view(s), []);
    }
  });
});
