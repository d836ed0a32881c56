import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { monotonicNowMs } from "./monotonic_clock.ts";

describe("monotonicNowMs", () => {
  it("is epoch milliseconds, within a second of the wall clock in a process whose clock did not step", () => {
    assert.ok(Math.abs(monotonicNowMs() - Date.now()) < 1000);
  });

  it("never goes backwards", () => {
    let last = monotonicNowMs();
    for (let i = 0; i < 10_000; i++) {
      const now = monotonicNowMs();
      assert.ok(now >= last, `${now} < ${last}`);
      last = now;
    }
  });
});
