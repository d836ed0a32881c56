import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { backoffDelayMs } from "./backoff.ts";

describe("backoffDelayMs", () => {
  it("doubles from 1 s and stops at the 30 s cap", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelayMs(a)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
  it("honours a smaller cap", () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelayMs(a, 5000)), [1000, 2000, 4000, 5000, 5000]);
  });
});
