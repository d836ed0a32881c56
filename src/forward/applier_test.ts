import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BackendResult, ForwardApplier, type ForwardBackend } from "./applier.ts";
import type { LocalForward } from "../ssh/argv.ts";
import type { DesiredForward } from "./desired.ts";
import { planForwards } from "./diff.ts";

/** An in-memory listener table standing in for the SSH master, with ports held by "other processes". */
class TableBackend implements ForwardBackend {
  readonly listening = new Set<string>();
  constructor(readonly busy = new Set<string>()) {}
  calls: string[] = [];
  async add(specs: LocalForward[]): Promise<BackendResult> {
    this.calls.push(`add ${specs.length}`);
    const r: BackendResult = { ok: [], failed: [] };
    for (const s of specs) {
      const key = `${s.bindAddress}:${s.localPort}`;
      if (this.busy.has(key) || this.listening.has(key)) r.failed.push({ spec: s, reason: "bind failed", portInUse: true });
      else (this.listening.add(key), r.ok.push(s));
    }
    return r;
  }
  async cancel(specs: LocalForward[]): Promise<BackendResult> {
    this.calls.push(`cancel ${specs.length}`);
    for (const s of specs) this.listening.delete(`${s.bindAddress}:${s.localPort}`);
    return { ok: specs, failed: [] };
  }
}

function want(localPort: number, over: Partial<DesiredForward> = {}): DesiredForward {
  return { containerId: "c1", containerName: "web", containerCreatedS: 1, localPort, remoteHost: "127.0.0.1", remotePort: localPort, protocol: "tcp", disposition: "wanted", reason: null, ...over };
}
const BIND = ["127.0.0.1", "::1"];

describe("ForwardApplier", () => {
  it("opens each forward on every bind address in one batch", async () => {
    const backend = new TableBackend();
    const applier = new ForwardApplier(backend, BIND);
    const out = await applier.apply(planForwards([want(80), want(443)], applier.active));
    assert.deepEqual(out.added.map((f) => f.localPort), [80, 443]);
    assert.deepEqual([...backend.listening].sort(), ["127.0.0.1:443", "127.0.0.1:80", "::1:443", "::1:80"]);
    assert.deepEqual(backend.calls, ["add 4"]);
  });

  it("shows a renamed container's new name on its forward, with no SSH call", async () => {
    const backend = new TableBackend();
    const applier = new ForwardApplier(backend, BIND);
    await applier.apply(planForwards([want(80)], applier.active));
    const out = await applier.apply(planForwards([want(80, { containerName: "web-renamed" })], applier.active));
    assert.deepEqual(out.renamed.map((r) => [r.oldName, r.forward.containerName]), [["web", "web-renamed"]]);
    assert.deepEqual(out.adopted, []);
    assert.equal(applier.active.get(80)?.containerName, "web-renamed");
    assert.deepEqual(backend.calls, ["add 2"]);
  });

  it("marks a busy port blocked, names the owner, and leaves no half forward", async () => {
    const backend = new TableBackend(new Set(["::1:5432"]));
    const applier = new ForwardApplier(backend, BIND, async (p) => `pid 77 (postgres) on ${p}`);
    const out = await applier.apply(planForwards([want(5432), want(80)], applier.active));
    assert.deepEqual(out.added.map((f) => f.localPort), [80]);
    assert.equal(out.blocked[0]?.reason, "local port 5432 is in use by pid 77 (postgres) on 5432");
    assert.ok(!backend.listening.has("127.0.0.1:5432"), "the 127.0.0.1 half was cancelled");
  });

  it("suggests lsof when the owner cannot be found", async () => {
    const applier = new ForwardApplier(new TableBackend(new Set(["127.0.0.1:5432"])), BIND);
    const out = await applier.apply(planForwards([want(5432)], applier.active));
    assert.match(out.blocked[0]?.reason ?? "", /lsof -nP -iTCP:5432/);
  });

  it("forwards a blocked port once it frees, keeping other ports untouched", async () => {
    const backend = new TableBackend(new Set(["127.0.0.1:5432"]));
    const applier = new ForwardApplier(backend, BIND);
    await applier.apply(planForwards([want(5432), want(80)], applier.active));
    backend.busy.clear();
    const out = await applier.apply(planForwards([want(5432), want(80)], applier.active));
    assert.deepEqual(out.added.map((f) => f.localPort), [5432]);
    assert.equal(applier.blocked.size, 0);
  });

  it("records removed forwards in history with their end reason", async () => {
    const applier = new ForwardApplier(new TableBackend(), BIND);
    await applier.apply(planForwards([want(80)], applier.active));
    const out = await applier.apply(planForwards([], applier.active), () => 5000);
    assert.equal(out.removed[0]?.endReason, "container stopped");
    assert.equal(applier.history[0]?.endedAtMs, 5000);
    assert.equal(applier.active.size, 0);
  });

  it("forgets blocked ports that are no longer wanted", async () => {
    const applier = new ForwardApplier(new TableBackend(new Set(["127.0.0.1:5432"])), BIND);
    await applier.apply(planForwards([want(5432)], applier.active));
    await applier.apply(planForwards([], applier.active));
    assert.equal(applier.blocked.size, 0);
  });

  it("moves every forward to history when the connection is lost", async () => {
    const applier = new ForwardApplier(new TableBackend(), BIND);
    await applier.apply(planForwards([want(80), want(81)], applier.active));
    const ended = applier.dropAll("connection lost");
    assert.deepEqual(ended.map((e) => e.endReason), ["connection lost", "connection lost"]);
    assert.equal(applier.active.size, 0);
  });
  describe("restore (a new master after the old one died)", () => {
    async function heldThenLost(ports: number[]) {
      const old = new ForwardApplier(new TableBackend(), BIND);
      await old.apply(planForwards(ports.map((p) => want(p, { containerName: `web${p}` })), old.active));
      return old.dropAll("connection lost");
    }

    it("opens every forward held before on its bind addresses in one batch, as active, without a reconcile", async () => {
      const ended = await heldThenLost([80, 443]);
      const backend = new TableBackend();
      const applier = new ForwardApplier(backend, BIND);
      const restored = await applier.restore(ended, () => 5000);
      assert.deepEqual(restored.map((f) => [f.localPort, f.containerName, f.sinceMs]), [[80, "web80", 5000], [443, "web443", 5000]]);
      assert.deepEqual([...applier.active.keys()], [80, 443]);
      assert.deepEqual([...backend.listening].sort(), ["127.0.0.1:443", "127.0.0.1:80", "::1:443", "::1:80"]);
      assert.deepEqual(backend.calls, ["add 4"]);
    });

    it("leaves out a port taken meanwhile, with no half forward, for the next reconcile to decide", async () => {
      const ended = await heldThenLost([80, 5432]);
      const backend = new TableBackend(new Set(["::1:5432"]));
      const applier = new ForwardApplier(backend, BIND);
      const restored = await applier.restore(ended);
      assert.deepEqual(restored.map((f) => f.localPort), [80]);
      assert.deepEqual([...applier.active.keys()], [80]);
      assert.equal(applier.blocked.size, 0);
      assert.deepEqual([...backend.listening].sort(), ["127.0.0.1:80", "::1:80"]);
    });

    it("lets the following reconcile remove a forward whose container went away meanwhile", async () => {
      const ended = await heldThenLost([80, 443]);
      const backend = new TableBackend();
      const applier = new ForwardApplier(backend, BIND);
      await applier.restore(ended);
      const out = await applier.apply(planForwards([want(80, { containerName: "web80" })], applier.active));
      assert.deepEqual(out.removed.map((f) => f.localPort), [443]);
      assert.deepEqual(out.added, []);
      assert.deepEqual([...backend.listening].sort(), ["127.0.0.1:80", "::1:80"]);
    });

    it("does not open a forward again that is already active", async () => {
      const ended = await heldThenLost([80]);
      const backend = new TableBackend();
      const applier = new ForwardApplier(backend, BIND);
      await applier.restore(ended);
      assert.deepEqual(await applier.restore(ended), []);
      assert.deepEqual(backend.calls, ["add 2"]);
    });
  });
});
