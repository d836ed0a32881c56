// The SSH ControlMaster against the real sshd of a test bed: start, check,
// failure kinds at first start, exit detection and clean stop.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { type MasterExitInfo, SshConnectError, SshMaster } from "../../src/ssh/master.ts";
import { probeMaster } from "../../src/ssh/mux_probe.ts";
import { resolveTarget, instanceIdentity } from "../../src/ssh/resolve.ts";
import { parseTarget } from "../../src/ssh/target.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { contextFor, eventually, pidAlive, processesMentioning, runtimeDirForTest } from "./_ssh_support.ts";

const skip = testbedSkipReason("SSH master integration tests");

async function startFailure(master: SshMaster): Promise<SshConnectError> {
  try {
    await master.start();
  } catch (err) {
    assert.ok(err instanceof SshConnectError, `expected SshConnectError, got ${err}`);
    return err;
  }
  await master.stop();
  assert.fail("the master started although it should not");
}

describe("SshMaster against a real sshd", { skip }, () => {
  let tb: Testbed;
  let rt: ReturnType<typeof runtimeDirForTest>;

  before(async () => {
    tb = await startTestbed();
    rt = runtimeDirForTest();
  });

  after(async () => {
    rt?.remove();
    await tb?.stop();
  });

  it("resolves the alias with ssh -G to the test bed's user, address and port", async () => {
    const { target: resolved, direct } = await resolveTarget(contextFor(tb, rt.dir));
    assert.deepEqual(resolved, { user: "root", hostname: tb.remoteAddress, port: 22 });
    assert.equal(direct, true, "the test bed's alias has no ProxyJump or ProxyCommand");
    assert.equal(instanceIdentity(resolved), `root@${tb.remoteAddress}:22`);
  });

  it("starts the master as a child, -O check passes, and the sshd saw exactly one connection", async () => {
    const before = tb.acceptedConnections();
    const master = new SshMaster(contextFor(tb, rt.dir));
    const t0 = performance.now();
    await master.start();
    const startMs = performance.now() - t0;
    try {
      assert.ok(master.pid !== null && pidAlive(master.pid));
      assert.ok(master.startedAt instanceof Date);
      assert.equal(await master.check(), true);
      await master.start(); // already running: no second connection
      assert.equal(tb.acceptedConnections() - before, 1);
      process.stderr.write(`    master ready after ${Math.round(startMs)} ms\n`);
    } finally {
      await master.stop();
    }
  });

  it("answers the mux alive check with its own pid, and a stopped (hung) master fails it within the deadline", async () => {
    const ctx = contextFor(tb, rt.dir);
    const master = new SshMaster(ctx);
    await master.start();
    try {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        assert.deepEqual(await probeMaster(ctx.controlPath, 2000), { alive: true, pid: master.pid });
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      process.stderr.write(`    mux alive check: p50 ${times[10]!.toFixed(2)} ms, max ${times[19]!.toFixed(2)} ms\n`);
      process.kill(master.pid!, "SIGSTOP");
      try {
        const t0 = performance.now();
        assert.equal(await master.check(300), false);
        assert.ok(performance.now() - t0 < 1000);
      } finally {
        process.kill(master.pid!, "SIGCONT");
      }
      assert.equal(await master.check(), true, "alive again once continued");
    } finally {
      await master.stop();
    }
  });

  it("stop() leaves no process and no socket, and is idempotent", async () => {
    const ctx = contextFor(tb, rt.dir);
    const master = new SshMaster(ctx);
    const exits: MasterExitInfo[] = [];
    master.onExit((i) => exits.push(i));
    await master.start();
    const pid = master.pid!;
    await master.stop();
    await master.stop();
    assert.equal(pidAlive(pid), false);
    assert.equal(existsSync(ctx.controlPath), false);
    assert.deepEqual(processesMentioning(ctx.controlPath), []);
    assert.equal(master.pid, null);
    assert.equal(await master.check(), false);
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.expected, true);
  });

  it("notices a SIGKILLed master within 100 ms and starts again over its stale socket", async () => {
    const ctx = contextFor(tb, rt.dir);
    const master = new SshMaster(ctx);
    let noticedAt = 0;
    let info: MasterExitInfo | null = null;
    master.onExit((i) => {
      noticedAt = performance.now();
      info = i;
    });
    await master.start();
    const pid = master.pid!;
    const killedAt = performance.now();
    process.kill(pid, "SIGKILL");
    await eventually(() => info !== null, 2000, "onExit after SIGKILL");
    const latencyMs = noticedAt - killedAt;
    process.stderr.write(`    SIGKILL noticed after ${latencyMs.toFixed(1)} ms\n`);
    assert.ok(latencyMs < 100, `noticed after ${latencyMs} ms`);
    assert.equal(info!.signal, "SIGKILL");
    assert.equal(info!.expected, false);
    assert.equal(master.pid, null);

    await master.start();
    try {
      assert.equal(await master.check(), true);
    } finally {
      await master.stop();
    }
    assert.equal(existsSync(ctx.controlPath), false);
  });

  it("refuses to start over a live master's socket and opens no connection", async () => {
    const ctx = contextFor(tb, rt.dir);
    const first = new SshMaster(ctx);
    await first.start();
    try {
      const before = tb.acceptedConnections();
      const err = await startFailure(new SshMaster(ctx));
      assert.equal(err.kind, "control-socket-in-use");
      assert.match(err.message, new RegExp(`pid ${first.pid}`));
      assert.equal(tb.acceptedConnections(), before);
      assert.equal(await first.check(), true, "the first master is untouched");
    } finally {
      await first.stop();
    }
  });

  it("reports an unknown host key as host-key-unknown and leaves known_hosts unchanged", async () => {
    const knownHosts = join(rt.dir, "empty_known_hosts");
    writeFileSync(knownHosts, "");
    const testbedKnownHosts = readFileSync(tb.knownHostsFile, "utf8");
    const ctx = contextFor(tb, rt.dir, { options: [`UserKnownHostsFile=${knownHosts}`] });
    const before = tb.acceptedConnections();
    const err = await startFailure(new SshMaster(ctx));
    assert.equal(err.kind, "host-key-unknown");
    assert.match(err.message, /No ED25519 host key is known for/);
    assert.match(err.hint ?? "", /ssh-keyscan -p 22 /);
    assert.equal(err.exitCode, 1, "the caller decides about exit code 2");
    assert.equal(readFileSync(knownHosts, "utf8"), "");
    assert.equal(readFileSync(tb.knownHostsFile, "utf8"), testbedKnownHosts);
    assert.equal(tb.acceptedConnections(), before);
    assert.equal(existsSync(ctx.controlPath), false);
  });

  it("reports a changed host key as host-key-changed", async () => {
    const otherKey = join(rt.dir, "other_host_key");
    const gen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    assert.equal(gen.status, 0);
    const [type, key] = readFileSync(`${otherKey}.pub`, "utf8").split(" ");
    const knownHosts = join(rt.dir, "wrong_known_hosts");
    writeFileSync(knownHosts, `${tb.remoteAddress} ${type} ${key}\n`);
    const err = await startFailure(new SshMaster(contextFor(tb, rt.dir, { options: [`UserKnownHostsFile=${knownHosts}`] })));
    assert.equal(err.kind, "host-key-changed");
    assert.match(err.hint ?? "", /ssh-keygen -f /);
    assert.equal(readFileSync(knownHosts, "utf8"), `${tb.remoteAddress} ${type} ${key}\n`);
  });

  it("reports a refused key as auth", async () => {
    const otherKey = join(rt.dir, "other_client_key");
    assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]).status, 0);
    const config = join(rt.dir, "badauth_config");
    writeFileSync(
      config,
      [
        "Host badauth",
        `  HostName ${tb.remoteAddress}`,
        "  User root",
        `  IdentityFile ${otherKey}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${tb.knownHostsFile}`,
        "  StrictHostKeyChecking yes",
        "",
      ].join("\n"),
    );
    const err = await startFailure(new SshMaster(contextFor(tb, rt.dir, { configFile: config, target: parseTarget("badauth") })));
    assert.equal(err.kind, "auth");
    assert.match(err.message, /Permission denied \(publickey\)/);
  });

  it("reports a closed port as unreachable", async () => {
    const err = await startFailure(new SshMaster(contextFor(tb, rt.dir, { target: parseTarget(`ssh://root@${tb.remoteAddress}:1`) })));
    assert.equal(err.kind, "unreachable");
    assert.match(err.message, /Connection refused/);
  });

  it("reports a host that accepts TCP but never speaks SSH as timeout when ready time runs out", async () => {
    // A silent listener on loopback, not a network cut: with the veth down,
    // packets to the test bed would follow the default route off this machine.
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const ctx = contextFor(tb, rt.dir, { target: parseTarget(`ssh://root@127.0.0.1:${port}`) });
      const master = new SshMaster(ctx, { readyTimeoutMs: 1500 });
      const t0 = performance.now();
      const err = await startFailure(master);
      assert.equal(err.kind, "timeout");
      assert.match(err.message, /not ready within 1500 ms/);
      assert.ok(performance.now() - t0 < 4000);
      assert.equal(master.pid, null);
      assert.deepEqual(processesMentioning(ctx.controlPath), []);
    } finally {
      silent.close();
    }
  });
});
