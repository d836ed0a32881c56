import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { DesiredForward } from "./desired.ts";
import { type ActiveForward, planForwards } from "./diff.ts";

function want(localPort: number, over: Partial<DesiredForward> = {}): DesiredForward {
  return {
    containerId: "c1", containerName: "web", containerCreatedS: 1, localPort, remoteHost: "127.0.0.1", remotePort: localPort,
    protocol: "tcp", disposition: "wanted", reason: null, ...over,
  };
}
function active(localPort: number, over: Partial<ActiveForward> = {}): ActiveForward {
  return { localPort, remoteHost: "127.0.0.1", remotePort: localPort, bindAddresses: ["127.0.0.1"], containerId: "c1", containerName: "web", sinceMs: 0, ...over };
}
const held = (...fs: ActiveForward[]) => new Map(fs.map((f) => [f.localPort, f]));

describe("planForwards", () => {
  it("adds what is wanted and not held", () => {
    const plan = planForwards([want(80), want(443)], held());
    assert.deepEqual(plan.add.map((f) => f.localPort), [80, 443]);
    assert.deepEqual(plan.remove, []);
  });

  it("cancels a forward whose container stopped", () => {
    const plan = planForwards([], held(active(80)));
    assert.deepEqual(plan.remove.map((r) => [r.forward.localPort, r.reason]), [[80, "container stopped"]]);
  });

  it("does nothing when desired equals held", () => {
    assert.deepEqual(planForwards([want(80)], held(active(80))), { add: [], remove: [], adopt: [] });
  });

  it("re-creates a forward whose remote end changed", () => {
    const plan = planForwards([want(80, { remotePort: 8080 })], held(active(80)));
    assert.equal(plan.remove.length, 1);
    assert.equal(plan.add[0]?.remotePort, 8080);
  });

  it("adopts a forward for a new container with the same ends without touching SSH", () => {
    const plan = planForwards([want(80, { containerId: "c2", containerName: "web2" })], held(active(80)));
    assert.deepEqual(plan.add, []);
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.adopt[0]?.by.containerId, "c2");
  });

  it("adopts the new name of a renamed container without touching SSH", () => {
    const plan = planForwards([want(80, { containerName: "renamed" })], held(active(80)));
    assert.deepEqual([plan.add, plan.remove], [[], []]);
    assert.equal(plan.adopt[0]?.by.containerName, "renamed");
  });

  it("says which container claimed a port when the owner changes", () => {
    const plan = planForwards(
      [want(80, { containerId: "c2", containerName: "newer", remotePort: 9000 }), want(80, { disposition: "claimed", reason: "x" })],
      held(active(80)),
    );
    assert.equal(plan.remove[0]?.reason, "port claimed by newer");
  });

  it("cancels a forward that the rules now ignore, with the rule as reason", () => {
    const plan = planForwards([want(22, { disposition: "ignored", reason: "excluded by --exclude-ports" })], held(active(22)));
    assert.equal(plan.remove[0]?.reason, "excluded by --exclude-ports");
  });
});
