import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ActiveForward, BlockedForward, DesiredForward } from "../forward/mod.ts";
import { forwardsSettled, heldContainer, type HoldOutcome, runStartHold } from "./start_hold.ts";

describe("heldContainer: which responses wait for the container's forwards", () => {
  const cases: Array<[string, string, number, string | null]> = [
    ["POST", "/v1.47/containers/web/start", 204, "web"],
    ["POST", "/containers/3f2a9c/start", 204, "3f2a9c"],
    ["POST", "/v1.41/containers/web/restart?t=0", 204, "web"],
    ["POST", "/v1.47/containers/web/start?detachKeys=ctrl-p", 200, "web"],
    ["POST", "/v1.47/containers/my%2Eapp/start", 204, "my.app"],
    ["POST", "/v1.47/containers/web/start", 304, null], // already started: nothing changed
    ["POST", "/v1.47/containers/web/start", 404, null],
    ["POST", "/v1.47/containers/web/start", 500, null],
    ["POST", "/v1.47/containers/web/stop", 204, null],
    ["POST", "/v1.47/containers/web/attach", 200, null],
    ["GET", "/v1.47/containers/web/start", 200, null],
    ["POST", "/v1.47/containers/create", 201, null],
    ["POST", "/v1.47/exec/abc/start", 200, null],
    ["POST", "/v1.47/containers/%zz/start", 204, null],
  ];
  for (const [method, target, status, want] of cases) {
    it(`${method} ${target} → ${status}: ${want === null ? "not held" : `held for ${want}`}`, () => assert.equal(heldContainer({ method, target }, status), want));
  }
});

describe("forwardsSettled: when a container's forwards are ready", () => {
  const desired = (over: Partial<DesiredForward>): DesiredForward => ({
    containerId: "c1", containerName: "web", containerCreatedS: 1, remoteHost: "127.0.0.1", remotePort: 8080, localPort: 8080, disposition: "wanted", reason: null, ...over,
  } as DesiredForward);
  const active = (port: number, containerId = "c1") => new Map<number, ActiveForward>([[port, { containerId, localPort: port } as ActiveForward]]);
  const blocked = (port: number) => new Map<number, BlockedForward>([[port, { desired: desired({ localPort: port }), reason: "taken", sinceMs: 0 }]]);
  const none = new Map();

  it("is false while the last reconcile did not list the container", () => assert.equal(forwardsSettled("c1", [desired({ containerId: "c0" })], none, none), false));
  it("is false while a wanted forward is neither active nor blocked", () => assert.equal(forwardsSettled("c1", [desired({})], none, none), false));
  it("is false while the local port is still active for another container", () => assert.equal(forwardsSettled("c1", [desired({})], active(8080, "c0"), none), false));
  it("is true once the forward is active for it", () => assert.equal(forwardsSettled("c1", [desired({})], active(8080), none), true));
  it("is true once the forward is blocked (a conflict)", () => assert.equal(forwardsSettled("c1", [desired({})], none, blocked(8080)), true));
  it("is true for ports that are excluded, UDP or claimed", () => {
    const ports = [desired({ disposition: "ignored" }), desired({ disposition: "unsupported", localPort: 53 }), desired({ disposition: "claimed", localPort: 81 })];
    assert.equal(forwardsSettled("c1", ports, none, none), true);
  });
  it("waits for every wanted port of the container", () => assert.equal(forwardsSettled("c1", [desired({}), desired({ localPort: 9090 })], active(8080), none), false));
});

describe("runStartHold", () => {
  const recorder = () => {
    const seen: Array<[string, number]> = [];
    return { seen, recordStartHold: (o: string, ms: number) => void seen.push([o, ms]) };
  };
  for (const result of [{ outcome: "ready", containerId: "c1" }, { outcome: "nothing-to-wait-for" }, { outcome: "timeout", reason: "slow" }, { outcome: "error", reason: "no link" }] as HoldOutcome[]) {
    it(`records a hold that ended ${result.outcome}`, async () => {
      const r = recorder();
      await runStartHold("web", async () => result, r);
      assert.deepEqual(r.seen.map(([o]) => o), [result.outcome]);
    });
  }
  it("records a wait that throws as an error, and resolves", async () => {
    const r = recorder();
    await runStartHold("web", () => Promise.reject(new Error("boom")), r);
    assert.deepEqual(r.seen.map(([o]) => o), ["error"]);
  });
  it("releases at the deadline (plus a short grace) a wait that never ends", async () => {
    const r = recorder();
    await runStartHold("web", () => new Promise<HoldOutcome>(() => undefined), r, 50);
    assert.equal(r.seen[0]![0], "timeout");
    assert.ok(r.seen[0]![1] >= 50 && r.seen[0]![1] < 1000, `held ${r.seen[0]![1]} ms`);
  });
  it("passes the deadline on and measures the time added", async () => {
    const r = recorder();
    let deadline = 0;
    await runStartHold("web", async (_ref, ms) => {
      deadline = ms;
      await new Promise((res) => setTimeout(res, 30));
      return { outcome: "ready", containerId: "c1" };
    }, r, 1234);
    assert.equal(deadline, 1234);
    assert.ok(r.seen[0]![1] >= 25, `added ${r.seen[0]![1]} ms`);
  });
});
