import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseBunCounts, parseCheckCounts, parseDenoCounts, renderSummary, runnerResult } from "./test_summary.ts";

// Endings of real `bun test` 1.4.5 runs.
const BUN_MIXED = [
  "(pass) g > passes [0.08ms]",
  "(fail) g > fails [1.11ms]",
  "(skip) g > skips",
  "(todo) g > todo",
  "",
  " 3 pass",
  " 1 skip",
  " 1 todo",
  " 2 fail",
  "Ran 7 tests across 2 files. [25.00ms]",
].join("\n");

const BUN_ERROR_AFTER_HOOK = [
  "# Unhandled error between tests",
  "-------------------------------",
  "error: in after hook",
  "-------------------------------",
  "",
  "",
  " 1 pass",
  " 0 fail",
  " 1 error",
  "Ran 1 test across 1 file. [39.00ms]",
].join("\n");

// A real `deno test` 2.x run (colours as Deno prints them to a pipe when asked).
const DENO_NESTED = [
  "\x1b[0m\x1b[38;5;245mrunning 1 test from ./k_test.ts\x1b[0m",
  "outer ...",
  "  inner ...",
  "    ok ... \x1b[0m\x1b[32mok\x1b[0m \x1b[0m\x1b[38;5;245m(1ms)\x1b[0m",
  "  inner ... \x1b[0m\x1b[32mok\x1b[0m \x1b[0m\x1b[38;5;245m(1ms)\x1b[0m",
  "  leaf ... \x1b[0m\x1b[32mok\x1b[0m \x1b[0m\x1b[38;5;245m(1ms)\x1b[0m",
  "outer ... \x1b[0m\x1b[32mok\x1b[0m \x1b[0m\x1b[38;5;245m(4ms)\x1b[0m",
  "running 1 test from ./b_test.ts",
  "ok ... ok (1ms)",
  "",
  "ok | 2 passed (3 steps) | 0 failed (176ms)",
].join("\n");

const DENO_FAILED = [
  "running 1 test from ./a_test.ts",
  "g ...",
  "  passes ... ok (0ms)",
  "  fails ... FAILED (3ms)",
  "  skips ... ignored (0ms)",
  "g ... FAILED (due to 1 failed step) (32ms)",
  "",
  " ERRORS ",
  "",
  "g ... fails => ext:deno_node/testing.ts:1:21231",
  "g ... ok => the name of a test, repeated in the report",
  "",
  " FAILURES ",
  "",
  "g ... fails => ext:deno_node/testing.ts:1:21231",
  "",
  "FAILED | 0 passed (1 step) | 1 failed (1 step) | 0 ignored (1 step) (140ms)",
].join("\n");

describe("parseBunCounts", () => {
  it("reads pass, fail, skip and todo from the end of a run (todo counts as skipped)", () => {
    assert.deepEqual(parseBunCounts(BUN_MIXED), { passed: 3, failed: 2, skipped: 2, errors: 0 });
  });

  it("reads an error outside any test even when no test failed", () => {
    assert.deepEqual(parseBunCounts(BUN_ERROR_AFTER_HOOK), { passed: 1, failed: 0, skipped: 0, errors: 1 });
  });

  it("reads the plural form and takes the last summary when test output looked like one", () => {
    assert.deepEqual(parseBunCounts(" 9 pass\n 9 fail\nsome output\n 2 pass\n 0 fail\n 2 errors\n"), { passed: 2, failed: 0, skipped: 0, errors: 2 });
  });
});

describe("parseDenoCounts", () => {
  it("counts leaves only, not the describe groups that hold them", () => {
    assert.deepEqual(parseDenoCounts(DENO_NESTED), { passed: 3, failed: 0, skipped: 0, errors: 0 });
  });

  it("counts failed and ignored steps and skips the ERRORS and FAILURES report", () => {
    assert.deepEqual(parseDenoCounts(DENO_FAILED), { passed: 1, failed: 1, skipped: 1, errors: 0 });
  });
});

describe("parseCheckCounts", () => {
  it("takes the check's own verdict", () => {
    assert.deepEqual(parseCheckCounts("starting\ncheck result: skipped (not root)\n", 0), { passed: 0, failed: 0, skipped: 1, errors: 0 });
  });

  it("falls back to the exit code when the check printed no verdict", () => {
    assert.equal(parseCheckCounts("crashed\n", 1).failed, 1);
    assert.equal(parseCheckCounts("", 0).passed, 1);
  });
});

describe("runnerResult", () => {
  it("adds one failure, with a note, when a runner exits non-zero but reports none", () => {
    const row = runnerResult("pure core under Deno", "deno", 1, "error: Module not found \"file:///x.ts\".\n");
    assert.equal(row.failed, 1);
    assert.match(row.note ?? "", /exited 1 without reporting a failed test/);
  });

  it("adds nothing when the failures are already reported", () => {
    const row = runnerResult("unit tests (bun)", "bun", 1, BUN_MIXED);
    assert.equal(row.failed, 2);
    assert.equal(row.note, undefined);
  });
});

describe("renderSummary", () => {
  it("ends with the line CI reads, counting errors outside tests as failures", () => {
    const out = renderSummary([
      runnerResult("unit tests (bun)", "bun", 1, BUN_ERROR_AFTER_HOOK),
      runnerResult("pure core under Deno", "deno", 0, DENO_NESTED),
      runnerResult("fresh machine", "check", 0, "check result: passed\n"),
    ]);
    const last = out.split("\n").at(-1);
    assert.equal(last, "tests: 5 passed, 1 failed, 0 skipped");
    assert.match(out, /^unit tests \(bun\) +1 +0 +0 +1 +1$/m);
  });
});
