import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { waitUntil } from "../_test_util.ts";
import { Coalescer } from "./coalescer.ts";

describe("Coalescer", () => {
  it("merges requests made while a run is in progress into one more run", async () => {
    const runs: number[][] = [];
    let finishFirstRun!: () => void;
    const firstRunHeld = new Promise<void>((r) => (finishFirstRun = r));
    const c = new Coalescer<number>(async (t) => {
      runs.push(t);
      if (runs.length === 1) await firstRunHeld;
    }, () => {});
    c.request(1);
    await waitUntil(() => runs.length === 1, 2_000, "the first run to start");
    for (let i = 2; i <= 50; i++) c.request(i);
    finishFirstRun();
    await c.idle();
    assert.equal(runs.length, 2);
    assert.deepEqual(runs[1]?.length, 49);
  });

  it("keeps running after a failed run and reports the error", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const c = new Coalescer<never>(async () => {
      calls++;
      if (calls === 1) throw new Error("boom");
    }, (e) => errors.push(e));
    c.request();
    await c.idle();
    c.request();
    await c.idle();
    assert.equal(calls, 2);
    assert.equal(errors.length, 1);
  });

  it("requestAndWait resolves after a run that started after the call, not after the run already in progress", async () => {
    const runs: number[][] = [];
    let finishFirstRun!: () => void;
    const firstRunHeld = new Promise<void>((r) => (finishFirstRun = r));
    const c = new Coalescer<number>(async (t) => {
      runs.push(t);
      if (runs.length === 1) await firstRunHeld;
    }, () => {});
    c.request(1);
    await waitUntil(() => runs.length === 1, 2_000, "the first run to start");
    let waited = false;
    const done = c.requestAndWait(2).then(() => (waited = true));
    finishFirstRun();
    await done;
    assert.equal(waited, true);
    assert.deepEqual(runs, [[1], [2]]);
  });

  it("a request with now starts its run without the gathering wait", async () => {
    const runs: number[][] = [];
    const c = new Coalescer<number>(async (t) => void runs.push(t), () => {}, 1_000);
    c.request(1);
    const started = performance.now();
    await c.requestAndWait(2, { now: true });
    assert.ok(performance.now() - started < 500, "waited for the gathering delay");
    assert.deepEqual(runs, [[1, 2]]);
  });

  it("without now, requests wait the gathering delay and share one run", async () => {
    const runs: number[][] = [];
    const c = new Coalescer<number>(async (t) => void runs.push(t), () => {}, 50);
    const started = performance.now();
    c.request(1);
    await c.requestAndWait(2);
    assert.ok(performance.now() - started >= 45, "ran before the gathering delay");
    assert.deepEqual(runs, [[1, 2]]);
  });
});
