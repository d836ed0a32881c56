/**
 * End-to-end: the compiled binary against a real remote Docker host
 * (network namespace with dockerd and sshd), driven as a user would.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, isRefused, localListeners, rdhpf, requireBinary, waitFor } from "./_harness.ts";
import { assertStatusIsTruth } from "./_truth.ts";

const skip = testbedSkipReason("end-to-end forwarding tests");

describe("rdhpf run (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let connectionsBefore = 0;
  /** After every scenario: `rdhpf status` equals ss and docker ps within the scenario's bound. */
  const truth = (timeoutMs = 3000) => assertStatusIsTruth(daemon, tb, { timeoutMs, ports: [24000, 24999] });

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    // A container that is already running when rdhpf starts.
    const pre = await tb.docker(["run", "-d", "--name", "pre", "-p", "24001:80", tb.image]);
    assert.equal(pre.code, 0, pre.stderr);
    connectionsBefore = tb.acceptedConnections();
    daemon = new Daemon(tb);
    await daemon.waitForLog(/docker events stream started/, 15_000);
  });

  after(async () => {
    await daemon?.stop("SIGTERM");
    daemon?.cleanup();
    await tb?.stop();
  });

  it("forwards a container that was running before rdhpf started", async () => {
    const body = await waitFor("pre-existing container on 127.0.0.1:24001", () => httpGet(24001), 5000);
    assert.match(body, /hello from busybox/);
    await truth();
  });

  it("forwards a new container on 127.0.0.1 and ::1 and removes it when the container goes", async () => {
    const r = await tb.docker(["run", "-d", "--name", "web", "-p", "24002:80", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("127.0.0.1:24002", () => httpGet(24002), 3000);
    await waitFor("[::1]:24002", () => httpGet(24002, "::1"), 3000);
    await tb.docker(["rm", "-f", "web"]);
    await waitFor("127.0.0.1:24002 refused", () => isRefused(24002), 3000);
    await waitFor("[::1]:24002 refused", () => isRefused(24002, "::1"), 3000);
    const st = await daemon.status();
    assert.ok(st.history.some((h) => h.local_port === 24002 && h.end_reason === "container stopped"));
    await truth();
  });

  it("forwards the port Docker assigned to -p 127.0.0.1::80", async () => {
    const r = await tb.docker(["run", "-d", "--name", "ephemeral", "-p", "127.0.0.1::80", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    const port = Number((await tb.docker(["port", "ephemeral", "80/tcp"])).stdout.trim().split(":").pop());
    assert.ok(port > 1024);
    await waitFor(`assigned port ${port}`, () => httpGet(port), 3000);
    const st = await daemon.status();
    assert.equal(st.forwards.find((f) => f.local_port === port)?.remote_address, "127.0.0.1");
    await truth();
    await tb.docker(["rm", "-f", "ephemeral"]);
    await truth();
  });

  it("connects to the binding's HostIp on the remote: a specific address stays that address", async () => {
    const r = await tb.docker(["run", "-d", "--name", "specific", "-p", `${tb.remoteAddress}:24005:80`, tb.image]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("forward to the specific address", () => httpGet(24005), 3000);
    const st = await daemon.status();
    assert.equal(st.forwards.find((f) => f.local_port === 24005)?.remote_address, tb.remoteAddress);
    await truth();
    await tb.docker(["rm", "-f", "specific"]);
    await truth();
  });

  it("gives a local port wanted by two containers to the most recent one; the other is conflict", async () => {
    const a = await tb.docker(["run", "-d", "--name", "older", "-p", "24006:80", tb.image]);
    assert.equal(a.code, 0, a.stderr);
    await waitFor("older forwarded", () => httpGet(24006), 3000);
    const b = await tb.docker(["run", "-d", "--name", "newer", "--label", "rdhpf.port.24007=24006", "-p", "24007:80", tb.image]);
    assert.equal(b.code, 0, b.stderr);
    const rows = await waitFor("newer owns 24006", async () => {
      const st = await daemon.status();
      const active = st.forwards.find((f) => f.local_port === 24006 && f.state === "active");
      return active?.container_name === "newer" ? st.forwards : null;
    }, 3000);
    const loser = rows.find((f) => f.container_name === "older" && f.local_port === 24006);
    assert.equal(loser?.state, "conflict");
    assert.match(loser?.reason ?? "", /claimed by newer/);
    await truth();
    await tb.docker(["rm", "-f", "older", "newer"]);
    await truth();
  });

  it("listens on loopback only", async () => {
    const listeners = (await localListeners()).filter((l) => l.endsWith(":24001"));
    assert.deepEqual(listeners.sort(), ["127.0.0.1:24001", "::1:24001"]);
    await truth();
  });

  it("reports a UDP binding as unsupported instead of dropping it", async () => {
    const r = await tb.docker(["run", "-d", "--name", "udp", "-p", "24003:53/udp", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    const row = await waitFor("udp row", async () => (await daemon.status()).forwards.find((f) => f.remote_port === 24003), 3000);
    assert.equal(row.state, "unsupported");
    assert.match(row.reason ?? "", /UDP/);
    await truth();
    await tb.docker(["rm", "-f", "udp"]);
    await truth();
  });

  it("reports a busy local port as conflict naming the owner, and forwards it once the port frees", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(24004, "127.0.0.1", r));
    try {
      const r = await tb.docker(["run", "-d", "--name", "busy", "-p", "24004:80", tb.image]);
      assert.equal(r.code, 0, r.stderr);
      const row = await waitFor("conflict row", async () => (await daemon.status()).forwards.find((f) => f.local_port === 24004 && f.state === "conflict"), 3000);
      assert.match(row.reason ?? "", new RegExp(`in use by pid ${process.pid}`));
      const st = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: daemon.stateDir });
      assert.equal(st.code, 3, "degraded while a forward is in conflict");
      await truth();
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // Retried at every resync (30 s); a container event also triggers one.
    await tb.docker(["run", "-d", "--name", "nudge", tb.image]);
    await waitFor("24004 forwarded after the port freed", () => httpGet(24004), 35_000);
    await truth();
    await tb.docker(["rm", "-f", "busy", "nudge"]);
    await truth();
  });

  it("forwards a burst of 50 containers started at once", async () => {
    const ports = Array.from({ length: 50 }, (_, i) => 24100 + i);
    await Promise.all(ports.map((p) => tb.docker(["run", "-d", "--name", `b${p}`, "-p", `${p}:80`, tb.image])));
    await Promise.all(ports.map((p) => waitFor(`burst port ${p}`, () => httpGet(p), 10_000)));
    await truth(10_000);
    await Promise.all(ports.map((p) => tb.docker(["rm", "-f", `b${p}`])));
    await Promise.all(ports.map((p) => waitFor(`burst port ${p} closed`, () => isRefused(p), 5000)));
    await truth(5000);
  });

  it("has used exactly one SSH connection for all of the above", () => {
    assert.equal(tb.acceptedConnections() - connectionsBefore, 1);
  });

  it("refuses a second instance for the same host with exit status 1 naming the PID", async () => {
    const r = await rdhpf(["run", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: daemon.stateDir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`already running .*PID ${daemon.pid}`));
    await truth();
  });

  it("cancels forwards, ends the master and exits 0 within 2 s of SIGTERM", async () => {
    const lockFile = readdirSync(daemon.stateDir).find((f) => f.endsWith(".lock"))!;
    const lock = JSON.parse(readFileSync(join(daemon.stateDir, lockFile), "utf8"));
    assert.ok(lock.masterPid > 0);
    const started = Date.now();
    const code = await daemon.stop("SIGTERM");
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.ok(await isRefused(24001));
    assert.ok(!existsSync(`/proc/${lock.masterPid}`), "master gone");
  });
});

describe("rdhpf run when the server refuses stream-local forwarding", { skip }, () => {
  it("falls back to docker system dial-stdio and still forwards", async () => {
    requireBinary();
    const tb = await startTestbed({ sshdExtraConfig: ["AllowStreamLocalForwarding no"] });
    const daemon = new Daemon(tb);
    try {
      await daemon.waitForLog(/transport=dial-stdio/, 20_000);
      // runc occasionally fails a start under load ("procResume: broken pipe"); that is dockerd's, not ours.
      let r = await tb.docker(["run", "-d", "--name", "viarelay", "-p", "24201:80", tb.image]);
      if (r.code !== 0) {
        await tb.docker(["rm", "-f", "viarelay"]);
        r = await tb.docker(["run", "-d", "--name", "viarelay", "-p", "24201:80", tb.image]);
      }
      assert.equal(r.code, 0, r.stderr);
      await waitFor("forward over dial-stdio transport", () => httpGet(24201), 5000);
      assert.equal((await daemon.status()).docker.transport, "dial-stdio");
      await assertStatusIsTruth(daemon, tb, { timeoutMs: 5000, ports: [24200, 24299] });
    } finally {
      await daemon.stop();
      daemon.cleanup();
      await tb.stop();
    }
  });
});

describe("rdhpf run at first start with an unknown host key", { skip }, () => {
  it("exits 2 with ssh's message and leaves known_hosts unchanged", async () => {
    requireBinary();
    const tb = await startTestbed();
    const before = readFileSync(tb.knownHostsFile, "utf8");
    writeFileSync(tb.knownHostsFile, "");
    const daemon = new Daemon(tb);
    try {
      const code = await Promise.race([daemon.exited, new Promise((r) => setTimeout(() => r("timeout"), 15_000))]);
      assert.equal(code, 2, daemon.logs());
      assert.match(daemon.logs(), /host key/i);
      assert.equal(readFileSync(tb.knownHostsFile, "utf8"), "");
    } finally {
      writeFileSync(tb.knownHostsFile, before);
      daemon.cleanup();
      await tb.stop();
    }
  });

  it("with StrictHostKeyChecking accept-new chosen by the user, connects and says loudly that ssh added the key", async () => {
    requireBinary();
    const tb = await startTestbed();
    const before = readFileSync(tb.knownHostsFile, "utf8");
    writeFileSync(tb.knownHostsFile, "");
    // The user's own ssh config says accept-new (rdhpf refuses it as -o).
    const userConfig = `${tb.sshConfigFile}.accept-new`;
    writeFileSync(userConfig, `Host ${tb.alias}\n  StrictHostKeyChecking accept-new\n\n${readFileSync(tb.sshConfigFile, "utf8")}`);
    const daemon = new Daemon(tb, ["-F", userConfig]);
    try {
      await waitFor("connected", async () => (await daemon.status()).state === "connected", 15_000).catch((err) => {
        throw new Error(`${err.message}\n${daemon.logs()}`);
      });
      assert.match(daemon.logs(), /WARN.*StrictHostKeyChecking accept-new/, "the config lint warns at start");
      assert.match(daemon.logs(), /WARN.*added a host key that was not in known_hosts/);
      assert.doesNotMatch(daemon.logs(), /Warning: Permanently added/, "ssh's own line is not copied raw");
      assert.notEqual(readFileSync(tb.knownHostsFile, "utf8"), "", "ssh added the key, as the user's option asks");
    } finally {
      await daemon.stop();
      writeFileSync(tb.knownHostsFile, before);
      daemon.cleanup();
      await tb.stop();
    }
  });
});

describe("rdhpf run refuses bad input before ssh sees it", () => {
  const cases: Array<[string, string[]]> = [
    ["an option-like TARGET", ["run", "--host", "-oProxyCommand=touch /tmp/rdhpf-pwned"]],
    ["an ssh:// TARGET starting with -", ["run", "--host", "ssh://-oProxyCommand=touch /tmp/rdhpf-pwned"]],
    ["a TARGET with a space", ["run", "--host", "ssh://a b"]],
    ["a TARGET with a newline", ["run", "--host", "host\nProxyCommand=x"]],
    ["an -o without =", ["run", "--host", "h", "-o", "ProxyCommand"]],
    ["a bad --bind", ["run", "--host", "h", "--bind", "everywhere"]],
    ["a port out of range", ["run", "--host", "h", "--exclude-ports", "70000"]],
    ["an unknown flag", ["run", "--frobnicate"]],
  ];
  for (const [what, args] of cases) {
    it(`exits 2 for ${what}, creating no file`, async () => {
      requireBinary();
      const r = await rdhpf(args, { RDHPF_STATE_DIR: "/tmp/rdhpf-e2e-never" });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.length > 0);
      assert.ok(!existsSync("/tmp/rdhpf-pwned"));
      assert.ok(!existsSync("/tmp/rdhpf-e2e-never"));
    });
  }
  it("exits 2 with ssh's message when the host is unreachable at first start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    try {
      // Port 1 on loopback: nothing listens there, the connection is refused at once.
      const r = await rdhpf(["run", "--host", "ssh://nobody@127.0.0.1:1"], { RDHPF_STATE_DIR: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /refused/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("exits 2 when no host is given, listing the ways to give one", async () => {
    const r = await rdhpf(["run"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /RDHPF_HOST/);
  });
  it("prints its version in one line, fast, without ssh", async () => {
    const started = Date.now();
    const r = await rdhpf(["--version"], { PATH: "/nonexistent" });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^rdhpf \d+\.\d+\.\d+ \(commit [0-9a-f]{7}.*, built \d{4}-\d\d-\d\dT[\d:]+Z, linux-x64\)\n$/);
    assert.ok(Date.now() - started < 1000);
  });
});
