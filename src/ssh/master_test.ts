// The master's failure paths that need no SSH server (the rest runs against
// the real test bed in test/integration/ssh_master_test.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import type { SshContext } from "./argv.ts";
import { SshMaster } from "./master.ts";
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
