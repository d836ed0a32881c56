// The master's failure paths that need no SSH server (the rest runs against
// the real test bed in test/integration/ssh_master_test.ts).
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import type { SshContext } from "./argv.ts";
import { ADOPTED_POLL_MS, SshMaster } from "./master.ts";
import { isAlive } from "../process/mod.ts";
import { parseTarget } from "./target.ts";

function ctx(dir: string, over: Partial<SshContext> = {}): SshContext {
  return { sshBinary: "ssh", configFile: null, options: [], target: parseTarget("ssh://root@127.0.0.1:1"), controlPath: join(dir, "m.sock"), ...over };
}

describe("SshMaster without a server", () => {
  it("fails with exit code 2 naming the ssh client when it cannot be run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-mastertest-"));
    try {
      const master = new SshMaster(ctx(dir, { sshBinary: join(dir, "no-such-ssh") }));
      await assert.rejects(master.start(), (err) => err instanceof RdhpfError && err.exitCode === 2 && /no-such-ssh/.test(err.message));
      assert.equal(master.pid, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a control socket in a directory that does not exist", async () => {
    const master = new SshMaster(ctx("/nonexistent-rdhpf-dir"));
    await assert.rejects(master.start(), /does not exist/);
  });

  it("stop() before start() does nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-mastertest-"));
    try {
      await new SshMaster(ctx(dir)).stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SshMaster.adopt (a master that is not our child)", () => {
  it("notices within about a second that the adopted process died (a zombie counts as dead), as an unexpected exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-mastertest-"));
    // Stands in for a master another rdhpf started: a process we only know by pid.
    const standIn = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const master = SshMaster.adopt(ctx(dir, { sshBinary: "true" }), standIn.pid!);
      assert.equal(master.adopted, true);
      assert.equal(master.pid, standIn.pid);
      const exited = new Promise<{ expected: boolean; ms: number }>((resolve) => {
        const t0 = Date.now();
        master.onExit((info) => resolve({ expected: info.expected, ms: Date.now() - t0 }));
      });
      standIn.kill("SIGKILL");
      const info = await exited;
      assert.equal(info.expected, false);
      assert.ok(info.ms <= ADOPTED_POLL_MS + 500, `noticed after ${info.ms} ms`);
      assert.equal(master.pid, null);
    } finally {
      standIn.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stop() ends the adopted process by pid (after `-O exit`) and reports an expected exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-mastertest-"));
    const standIn = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const master = SshMaster.adopt(ctx(dir, { sshBinary: "true" }), standIn.pid!);
      let expected: boolean | null = null;
      master.onExit((info) => (expected = info.expected));
      await master.stop();
      assert.equal(isAlive(standIn.pid!), false);
      assert.equal(expected, true);
    } finally {
      standIn.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("release() lets go without ending it or reporting an exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-mastertest-"));
    const standIn = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const master = SshMaster.adopt(ctx(dir, { sshBinary: "true" }), standIn.pid!);
      let exits = 0;
      master.onExit(() => exits++);
      master.release();
      standIn.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, ADOPTED_POLL_MS + 300));
      assert.equal(exits, 0);
    } finally {
      standIn.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
