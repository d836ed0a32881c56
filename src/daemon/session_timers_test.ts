import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { wokeAfterGap } from "./session_timers.ts";

describe("wokeAfterGap", () => {
  const cases: Array<{ name: string; nowMs: number; lastTickMs: number; intervalMs: number; woke: boolean; lateMs: number }> = [
    { name: "a timer on time is no wake", nowMs: 115_000, lastTickMs: 100_000, intervalMs: 15_000, woke: false, lateMs: 0 },
    { name: "a few seconds late on a busy machine is no wake", nowMs: 120_000, lastTickMs: 100_000, intervalMs: 15_000, woke: false, lateMs: 5_000 },
    { name: "more than 5 s late means the machine slept", nowMs: 120_001, lastTickMs: 100_000, intervalMs: 15_000, woke: true, lateMs: 5_001 },
    { name: "an hour of sleep", nowMs: 3_715_000, lastTickMs: 100_000, intervalMs: 15_000, woke: true, lateMs: 3_600_000 },
  ];
  for (const t of cases) {
    it(t.name, () => assert.deepEqual(wokeAfterGap(t.nowMs, t.lastTickMs, t.intervalMs), { woke: t.woke, lateMs: t.lateMs }));
  }
});
