/**
 * Fault injection on the real test bed, driving the compiled binary: after
 * each fault the local forwards must equal the truth within the stated time.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, isRefused, localListeners, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("fault-injection tests");

function lockOf(d: Daemon): { pid: number; masterPid: number | null } {
  const f = readdirSync(d.stateDir).find((n) => n.endsWith(".lock"))!;
  return JSON.parse(readFileSync(join(d.stateDir, f), "utf8"));
}

describe("rdhpf heals itself (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    const r = await tb.docker(["run", "-d", "--name", "steady", "--restart", "always", "-p", "25001:80", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    daemon = new Daemon(tb);
    await waitFor("steady forwarded", () => httpGet(25001), 15_000);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
  });

  it("reconnects within 10 s after the ControlMaster is SIGKILLed", async () => {
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    process.kill(masterPid, "SIGKILL");
    await waitFor("forward gone with the master", () => isRefused(25001), 2000);
    await waitFor("forward back", () => httpGet(25001), 10_000);
    const st = await daemon.status();
    assert.equal(st.ssh.reconnects, 1);
    assert.notEqual(st.ssh.master_pid, masterPid);
  });

  it("comes back within 15 s after sshd restarts and drops its connections", async () => {
    await tb.restartSshd({ dropConnections: true });
    await waitFor("forward back after sshd restart", async () => (await daemon.status()).ssh.reconnects >= 2 && (await httpGet(25001)), 15_000);
  });

  it("equals the truth within 15 s after the remote dockerd restarts", async () => {
    await tb.restartDockerd();
    const r = await tb.docker(["run", "-d", "--name", "after-restart", "-p", "25002:80", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("restart-policy container forwarded", () => httpGet(25001), 15_000);
    await waitFor("container started after the restart forwarded", () => httpGet(25002), 15_000);
    assert.ok((await daemon.status()).docker.event_stream_restarts >= 1);
  });

  it("ends the orphaned master of a SIGKILLed rdhpf at the next start, without duplicate listeners", async () => {
    const { masterPid } = lockOf(daemon);
    process.kill(daemon.pid, "SIGKILL");
    await daemon.exited;
    assert.ok(existsSync(`/proc/${masterPid}`), "the master outlived rdhpf (that is what the next start must clean up)");
    const next = new Daemon(tb, [], { stateDir: daemon.stateDir });
    daemon = next;
    await waitFor("orphan ended", () => !existsSync(`/proc/${masterPid}`), 5000);
    await waitFor("forwards back", async () => (await httpGet(25001)) && (await httpGet(25002)), 5000);
    const listeners = (await localListeners()).filter((l) => l.endsWith(":25001"));
    assert.deepEqual(listeners.sort(), ["127.0.0.1:25001", "::1:25001"]);
  });
});
