import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sleep } from "./sleep.ts";

describe("sleep", () => {
  it("ends early when aborted", async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 20);
    await sleep(10_000, ac.signal);
    assert.ok(Date.now() - started < 1000);
  });
});
