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
import { assertStatusIsTruth } from "./_truth.ts";

const skip = testbedSkipReason("fault-injection tests");

function lockOf(d: Daemon): { pid: number; masterPid: number | null } {
  const f = readdirSync(d.stateDir).find((n) => n.endsWith(".lock"))!;
  return JSON.parse(readFileSync(join(d.stateDir, f), "utf8"));
}

describe("rdhpf heals itself (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  /** After every fault: `rdhpf status` equals ss and docker ps within the fault's bound. */
  const truth = (timeoutMs: number) => assertStatusIsTruth(daemon, tb, { timeoutMs, ports: [25000, 25999] });

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

  it("replaces a SIGKILLed ControlMaster at once, without a backoff: forwards answer again within 3 s", async () => {
    // A session younger than REPLACE_AT_ONCE_AFTER_MS (5 s) would back off first.
    await new Promise((r) => setTimeout(r, 5500));
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    const t0 = performance.now();
    process.kill(masterPid, "SIGKILL");
    await waitFor("forward gone with the master", () => isRefused(25001), 2000, 2);
    await waitFor("forward back", () => httpGet(25001, "127.0.0.1", 200), 10_000, 2);
    const backMs = performance.now() - t0;
    console.log(`forward answered again ${backMs.toFixed(0)} ms after the master's SIGKILL`);
    // The old plan waited a 1 s backoff first (1.7 s in all on a quiet
    // machine); now only the new connection and the Docker link count
    // (~0.3-0.4 s quiet, 0.7-2.5 s on this shared machine under load 20-30,
    // hence the wall bound; the plan itself is checked exactly).
    assert.match(daemon.logs(), /msg=Reconnecting in_ms=0 attempt=1/, "the first reconnect after the kill did not wait");
    // The held forward was opened again as soon as the new master was ready, not after the Docker link and a list.
    // (Its log line may follow the forward's first answer by a moment.)
    await daemon.waitForLog(/msg="Forwards of the lost connection opened again; the Docker list confirms them next" restored=1 held=1/, 5000);
    assert.ok(backMs < 3000, `forward back after ${backMs.toFixed(0)} ms`);
    const st = await daemon.status();
    assert.equal(st.ssh.reconnects, 1);
    assert.notEqual(st.ssh.master_pid, masterPid);
    await truth(10_000);
  });

  it("ends the session of a master that stops answering (SIGSTOP) within 45 s, and forwards answer again through a new one", async () => {
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    const t0 = performance.now();
    process.kill(masterPid, "SIGSTOP");
    try {
      await daemon.waitForLog(/msg="SSH session ended" reason="ControlMaster check failed"/, 45_000);
    } finally {
      // The hung master is ended by rdhpf; one still around must not stay stopped.
      try {
        process.kill(masterPid, "SIGCONT");
      } catch { /* already gone */ }
    }
    const endedMs = performance.now() - t0;
    console.log(`session of the stopped master ended ${(endedMs / 1000).toFixed(1)} s after its SIGSTOP`);
    assert.ok(endedMs < 45_000, `ended after ${endedMs.toFixed(0)} ms`);
    await waitFor("forward back", () => httpGet(25001, "127.0.0.1", 200), 15_000);
    await truth(15_000);
  });

  it("comes back within 15 s after sshd restarts and drops its connections", async () => {
    await tb.restartSshd({ dropConnections: true });
    await waitFor("forward back after sshd restart", async () => (await daemon.status()).ssh.reconnects >= 2 && (await httpGet(25001)), 15_000);
    await truth(15_000);
  });

  it("equals the truth within 15 s after the remote dockerd restarts", async () => {
    await tb.restartDockerd();
    const r = await tb.docker(["run", "-d", "--name", "after-restart", "-p", "25002:80", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("restart-policy container forwarded", () => httpGet(25001), 15_000);
    await waitFor("container started after the restart forwarded", () => httpGet(25002), 15_000);
    assert.ok((await daemon.status()).docker.event_stream_restarts >= 1);
    await truth(15_000);
  });

  it("equals the truth within 15 s after a 20 s network cut during which containers changed", async () => {
    await tb.setLinkUp(false);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      // Changed on the remote while this machine cannot reach it.
      assert.equal((await tb.docker(["run", "-d", "--name", "during-cut", "-p", "25003:80", tb.image])).code, 0);
      assert.equal((await tb.docker(["rm", "-f", "after-restart"])).code, 0);
      await new Promise((r) => setTimeout(r, 17_000));
    } finally {
      await tb.setLinkUp(true);
    }
    await waitFor("container started during the cut forwarded", () => httpGet(25003), 15_000);
    await waitFor("container removed during the cut unforwarded", () => isRefused(25002), 15_000);
    assert.ok(await httpGet(25001));
    await truth(15_000);
  });

  it("equals the truth within 15 s after rdhpf was stopped (SIGSTOP) for 40 s", async () => {
    process.kill(daemon.pid, "SIGSTOP");
    try {
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await tb.docker(["rm", "-f", "during-cut"])).code, 0);
      assert.equal((await tb.docker(["run", "-d", "--name", "during-stop", "-p", "25002:80", tb.image])).code, 0);
      await new Promise((r) => setTimeout(r, 38_000));
    } finally {
      process.kill(daemon.pid, "SIGCONT");
    }
    await waitFor("container started while stopped forwarded", () => httpGet(25002), 15_000);
    await waitFor("container removed while stopped unforwarded", () => isRefused(25003), 15_000);
    await truth(15_000);
  });

  it("adopts the master of a SIGKILLed rdhpf at the next start: no new connection, no duplicate listeners", async () => {
    const { masterPid } = lockOf(daemon);
    process.kill(daemon.pid, "SIGKILL");
    await daemon.exited;
    assert.ok(existsSync(`/proc/${masterPid}`), "the master outlived rdhpf (that is what the next start takes over)");
    const accepted = tb.acceptedConnections();
    const next = new Daemon(tb, [], { stateDir: daemon.stateDir });
    daemon = next;
    // From the start to the decision: the adoption costs one `ssh -O check` (~5 ms) and reads two files.
    const logs = await next.waitForLog(/msg="rdhpf starting"/, 10_000).then(() => next.logs());
    assert.match(logs, /Adopting the SSH master of the previous run/);
    assert.ok(existsSync(`/proc/${masterPid}`), "the adopted master lives on");
    await waitFor("forwards answer", async () => (await httpGet(25001)) && (await httpGet(25002)), 5000);
    assert.ok(await isRefused(25003));
    const listeners = (await localListeners()).filter((l) => l.endsWith(":25001"));
    assert.deepEqual(listeners.sort(), ["127.0.0.1:25001", "::1:25001"]);
    assert.equal(tb.acceptedConnections() - accepted, 0, "sshd saw no new connection");
    assert.equal((await next.status()).ssh.master_pid, masterPid);
    await truth(5000);
  });

  it("stops cleanly on SIGTERM right after a killed master's forwards came back, before the Docker link did", async () => {
    // The forwards come back before the Docker link (engine.ts, restoreHeldForwards): a stop in
    // between must not leave an event stream running, nor the new master behind rdhpf.
    await new Promise((r) => setTimeout(r, 5500));
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    process.kill(masterPid, "SIGKILL");
    await waitFor("forward gone with the master", () => isRefused(25001), 3000, 2);
    await waitFor("forward back", () => httpGet(25001, "127.0.0.1", 200), 10_000, 2);
    const newMaster = lockOf(daemon).masterPid;
    const t0 = performance.now();
    assert.equal(await daemon.stop("SIGTERM"), 0);
    const stopMs = performance.now() - t0;
    await daemon.waitForLog(/Forwards of the lost connection opened again/, 2000);
    // Below the 1.8 s deadline after which rdhpf exits without cleaning up.
    assert.ok(stopMs < 1500, `stopped after ${stopMs.toFixed(0)} ms`);
    assert.ok(newMaster === null || !existsSync(`/proc/${newMaster}`), "the new master ended with rdhpf");
    assert.ok(await isRefused(25001));
    assert.ok(await isRefused(25002));
  });
});
