import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Coalescer } from "./coalescer.ts";

describe("Coalescer", () => {
  it("merges requests made while a run is in progress into one more run", async () => {
    const runs: number[][] = [];
    const c = new Coalescer<number>(async (t) => {
      runs.push(t);
      await new Promise((r) => setTimeout(r, 20));
    }, () => {});
    c.request(1);
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 2; i <= 50; i++) c.request(i);
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
});
