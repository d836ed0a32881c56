import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { canRunCommands, runCommands } from "./manager_commands.ts";

const scratch = mkdtempSync(join(tmpdir(), "rdhpf-manager-commands-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("canRunCommands", () => {
  it("runs commands only on the platform they are for, when the tool is on PATH", () => {
    const bin = join(scratch, "fake-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "systemctl"), "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(canRunCommands("linux", "linux", bin), true);
    assert.equal(canRunCommands("darwin", "linux", bin), false);
    assert.equal(canRunCommands("linux", "darwin", bin), false);
    assert.equal(canRunCommands("linux", "linux", join(scratch, "empty-bin")), false);
  });
});

describe("runCommands", () => {
  const answering = (codes: number[]) => {
    const calls: string[] = [];
    const run = async (argv: string[]) => {
      calls.push(argv.join(" "));
      const code = codes.shift() ?? 0;
      return { argv, code, stdout: "", stderr: code === 0 ? "" : "no such unit" };
    };
    return { calls, run };
  };

  it("retries a failing command up to its retries, then goes on", async () => {
    const fake = answering([1, 1, 0, 0]);
    const lines: string[] = [];
    const results = await runCommands(
      [{ argv: ["systemctl", "--user", "restart", "rdhpf.service"], mayFail: false, retries: 3 }, { argv: ["true"], mayFail: false, retries: 0 }],
      { run: fake.run, print: (l) => void lines.push(l), retryDelayMs: 0 },
      null,
    );
    assert.deepEqual(fake.calls, ["systemctl --user restart rdhpf.service", "systemctl --user restart rdhpf.service", "systemctl --user restart rdhpf.service", "true"]);
    assert.deepEqual(results.map((r) => r.code), [0, 0]);
    assert.deepEqual(lines, ["ran: systemctl --user restart rdhpf.service", "ran: true"]);
  });

  it("reports a command that may fail and throws for one that may not, with the hint", async () => {
    const lines: string[] = [];
    await assert.rejects(
      runCommands(
        [{ argv: ["launchctl", "bootout", "gui/501/com.rdhpf"], mayFail: true, retries: 0 }, { argv: ["launchctl", "enable", "gui/501/com.rdhpf"], mayFail: false, retries: 0 }],
        { run: answering([3, 5]).run, print: (l) => void lines.push(l), retryDelayMs: 0 },
        "run it by hand",
      ),
      (e: unknown) => e instanceof RdhpfError && e.message === "launchctl enable gui/501/com.rdhpf failed with exit 5: no such unit" && e.hint === "run it by hand",
    );
    assert.deepEqual(lines, ["ran: launchctl bootout gui/501/com.rdhpf (exit 3, expected when not loaded)"]);
  });
});
