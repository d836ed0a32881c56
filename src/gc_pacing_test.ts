import { describe, it } from "bun:test";
import assert from "node:assert/strict";
import { GC_TIMER_VARIABLE, gcPacingExec } from "./gc_pacing.ts";

const compiled = { env: { HOME: "/home/u" }, execPath: "/usr/local/bin/rdhpf", entry: "/$bunfs/root/rdhpf", canExec: true };

describe("gcPacingExec", () => {
  it("re-executes the compiled daemon with the same arguments and the GC pace added to its environment", () => {
    assert.deepEqual(gcPacingExec(["run", "--host", "h"], compiled), {
      path: "/usr/local/bin/rdhpf",
      args: ["/usr/local/bin/rdhpf", "run", "--host", "h"],
      env: { HOME: "/home/u", [GC_TIMER_VARIABLE]: "1" },
    });
  });
  it("does nothing once the variable is set, by itself or by the user", () => {
    assert.equal(gcPacingExec(["run"], { ...compiled, env: { [GC_TIMER_VARIABLE]: "0" } }), null);
  });
  it("leaves short-lived commands alone", () => {
    assert.equal(gcPacingExec(["status"], compiled), null);
    assert.equal(gcPacingExec([], compiled), null);
  });
  it("leaves sources run by a runtime alone, and a runtime without execve", () => {
    assert.equal(gcPacingExec(["run"], { ...compiled, entry: "/src/rdhpf/src/main.ts" }), null);
    assert.equal(gcPacingExec(["run"], { ...compiled, canExec: false }), null);
  });
});
