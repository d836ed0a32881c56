// runSsh against stand-in clients and a missing socket: no SSH server needed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import type { SshContext } from "./argv.ts";
import { MAX_OUTPUT_BYTES, runSsh } from "./process.ts";
import { parseTarget } from "./target.ts";

function ctx(dir: string, over: Partial<SshContext> = {}): SshContext {
  return { sshBinary: "ssh", configFile: null, options: [], target: parseTarget("ssh://root@127.0.0.1:1"), controlPath: join(dir, "m.sock"), ...over };
}

describe("runSsh", () => {
  it("rejects with exit code 2 when the ssh client is missing", async () => {
    await assert.rejects(
      runSsh({ kind: "check" }, ctx("/tmp", { sshBinary: "/nonexistent/ssh" })),
      (err) => err instanceof RdhpfError && err.exitCode === 2 && /openssh-client/.test(err.hint ?? ""),
    );
  });

  it("says the argument list is too long, not that ssh is missing, when the OS refuses the argv (E2BIG)", async () => {
    // 3 MiB in one argument: over Linux's 128 KiB per string and macOS's 1 MiB in all.
    await assert.rejects(
      runSsh({ kind: "command", command: ["echo", "x".repeat(3 * 1024 * 1024)] }, ctx("/tmp")),
      (err) => err instanceof RdhpfError && /argument list too long \(E2BIG/.test(err.message) && !/openssh-client/.test(err.hint ?? "") && err.exitCode === 1,
    );
  });

  it("resolves with ssh's exit code and stderr when the master is not there", async () => {
    const r = await runSsh({ kind: "check" }, ctx("/nonexistent-rdhpf-dir"));
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Control socket connect\(\/nonexistent-rdhpf-dir\/m\.sock\): No such file or directory/);
    assert.equal(r.timedOut, false);
  });
});

describe("runSsh with a stand-in client", () => {
  function fakeSsh(script: string): { dir: string; binary: string } {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-fakessh-"));
    const binary = join(dir, "ssh");
    writeFileSync(binary, `#!/bin/sh\n${script}\n`);
    chmodSync(binary, 0o755);
    return { dir, binary };
  }

  it("kills a hanging ssh by pid after timeoutMs", async () => {
    const fake = fakeSsh("exec sleep 30");
    try {
      const t0 = performance.now();
      const r = await runSsh({ kind: "check" }, ctx(fake.dir, { sshBinary: fake.binary }), { timeoutMs: 200 });
      assert.equal(r.timedOut, true);
      assert.equal(r.signal, "SIGKILL");
      assert.equal(r.code, null);
      assert.ok(performance.now() - t0 < 2000);
    } finally {
      rmSync(fake.dir, { recursive: true, force: true });
    }
  });

  it("caps collected output at MAX_OUTPUT_BYTES", async () => {
    const fake = fakeSsh("head -c 3000000 /dev/zero | tr '\\0' x");
    try {
      const r = await runSsh({ kind: "check" }, ctx(fake.dir, { sshBinary: fake.binary }));
      assert.equal(r.code, 0);
      assert.equal(r.stdout.length, MAX_OUTPUT_BYTES);
    } finally {
      rmSync(fake.dir, { recursive: true, force: true });
    }
  });

  it("passes stdin when given and the argv unchanged", async () => {
    const fake = fakeSsh('cat; printf "|%s" "$@"');
    try {
      const r = await runSsh({ kind: "command", command: ["echo", "a b"] }, ctx(fake.dir, { sshBinary: fake.binary }), { stdin: "input" });
      assert.equal(r.stdout, `input|-F|/dev/null|-S|${join(fake.dir, "m.sock")}|-o|ControlMaster=no|-o|BatchMode=yes|-o|LogLevel=ERROR|-o|ProxyCommand=false|-T|--|root@127.0.0.1|'echo'|'a b'`);
    } finally {
      rmSync(fake.dir, { recursive: true, force: true });
    }
  });
});
