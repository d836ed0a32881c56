/**
 * `rdhpf doctor` against the real test bed, driving the compiled binary: a
 * healthy host passes every check with one SSH connection; each broken
 * setting is named with its fix.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CheckResult, DoctorReportSchema, type DoctorReport } from "../../src/doctor/mod.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { BINARY, childrenOf, cleanEnv, Daemon, httpGet, rdhpf, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("doctor tests");

/** The recommended keepalive (docs/deployment.md), so that a healthy test bed has no advice left. */
const KEEPALIVE = ["ClientAliveInterval 60", "ClientAliveCountMax 3"];
const PORT = 28001;

function doctorTmpDirs(): string[] {
  return readdirSync("/tmp").filter((n) => n.startsWith("rdhpf-doctor-"));
}

function check(report: DoctorReport, id: CheckResult["id"]): CheckResult {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} missing`);
  return c;
}

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen({ port, host, exclusive: true }, () => resolve(s));
  });
}

describe("rdhpf doctor (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let stateDir: string;

  const doctor = async (format: "json" | "text" = "json", extra: string[] = []) => {
    const r = await rdhpf(["doctor", "--host", tb.alias, "-F", tb.sshConfigFile, "--format", format, ...extra], { RDHPF_STATE_DIR: stateDir }, 90_000);
    return { ...r, report: format === "json" ? DoctorReportSchema.parse(JSON.parse(r.stdout)) : null };
  };

  before(async () => {
    requireBinary();
    tb = await startTestbed({ sshdExtraConfig: KEEPALIVE });
    stateDir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-doctor-"));
    const r = await tb.docker(["run", "-d", "--name", "web", "-p", `${PORT}:80`, tb.image]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    rmSync(stateDir, { recursive: true, force: true });
    await tb?.stop();
  });

  it("passes every check on a healthy host, over one SSH connection, and cleans up", async () => {
    const connectionsBefore = tb.acceptedConnections();
    const tmpBefore = doctorTmpDirs();
    const knownHosts = readFileSync(tb.knownHostsFile, "utf8");
    const started = Date.now();
    const { code, report, stderr } = await doctor();
    const tookMs = Date.now() - started;
    const notOk = report!.checks.filter((c) => c.status !== "ok");
    assert.deepEqual(notOk, [], stderr);
    assert.equal(code, 0);
    assert.equal(report!.ok, true);
    assert.equal(report!.checks.length, 17);
    assert.match(check(report!, "docker-socket").detail, /not served now \(rdhpf does not run for this host\); `rdhpf run` serves it at .*\.sock/);
    assert.deepEqual(report!.resolved, { user: "root", hostname: tb.remoteAddress, port: tb.sshPort });
    assert.match(check(report!, "docker").detail, /Engine API 1\.\d+/);
    assert.match(check(report!, "sshd-keepalive").detail, /ClientAliveInterval 60/);
    assert.equal(tb.acceptedConnections() - connectionsBefore, 1, "the doctor opens exactly one SSH connection");
    assert.deepEqual(doctorTmpDirs(), tmpBefore, "the doctor removes its private socket dir");
    assert.equal(readFileSync(tb.knownHostsFile, "utf8"), knownHosts, "known_hosts unchanged");
    process.stderr.write(`doctor on a healthy test bed took ${tookMs} ms\n`);
  });

  it("prints ✓ per check in text form, with the resolved target", async () => {
    const { code, stdout } = await doctor("text");
    assert.equal(code, 0, stdout);
    assert.equal(stdout.split("\n").filter((l) => l.startsWith("✓ ")).length, 17, stdout);
    assert.match(stdout, new RegExp(`root@${tb.remoteAddress.replace(/\./g, "\\.")}, port ${tb.sshPort}`));
  });

  it("fails local ports when a port a container publishes is busy here, naming the owner", async () => {
    const server = await listen(PORT, "127.0.0.1");
    try {
      const { code, report } = await doctor();
      assert.equal(code, 1);
      const ports = check(report!, "local-ports");
      assert.equal(ports.status, "fail");
      assert.match(ports.detail, new RegExp(`local port ${PORT} \\(container web, remote port ${PORT}\\) is in use by pid ${process.pid}`));
      assert.match(ports.hint ?? "", new RegExp(`--map ${PORT}:LOCAL`));
    } finally {
      server.close();
    }
  });

  it("checks the local ports that run's forwarding options (--map, --exclude-ports, --on-conflict, --bind) would take", async () => {
    const server = await listen(PORT, "127.0.0.1");
    const mapped = PORT + 100;
    const mappedHolder = await listen(mapped, "127.0.0.1");
    try {
      const moved = check((await doctor("json", ["--map", `${PORT}:${mapped + 1}`])).report!, "local-ports");
      assert.equal(moved.status, "ok", moved.detail);
      const movedOntoBusy = check((await doctor("json", ["--map", `${PORT}:${mapped}`])).report!, "local-ports");
      assert.equal(movedOntoBusy.status, "fail");
      assert.match(movedOntoBusy.detail, new RegExp(`local port ${mapped} \\(container web, remote port ${PORT}\\)`));
      const excluded = await doctor("json", ["--exclude-ports", String(PORT)]);
      assert.equal(check(excluded.report!, "local-ports").status, "ok");
      assert.equal(excluded.code, 0);
      const nextFree = check((await doctor("json", ["--on-conflict", "next-free"])).report!, "local-ports");
      assert.equal(nextFree.status, "warn");
      assert.match(nextFree.detail, /next-free/);
      // Held on 127.0.0.1 only: a run that listens on another address would not collide.
      const elsewhere = check((await doctor("json", ["--bind", "127.0.0.2"])).report!, "local-ports");
      assert.equal(elsewhere.status, "ok", elsewhere.detail);
      const bad = await rdhpf(["doctor", "--host", tb.alias, "-F", tb.sshConfigFile, "--include-ports", "70000"], { RDHPF_STATE_DIR: stateDir });
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--include-ports/);
    } finally {
      server.close();
      mappedHolder.close();
    }
  });

  it("reports an rdhpf instance already running for the host, whose forwards do not count as busy", async () => {
    const daemon = new Daemon(tb, [], { stateDir });
    try {
      await waitFor("forwarded by the daemon", () => httpGet(PORT), 20_000);
      const { code, report } = await doctor();
      const inst = check(report!, "instance");
      assert.equal(inst.status, "ok");
      assert.match(inst.detail, new RegExp(`rdhpf runs for this host \\(PID ${daemon.pid}, connected, 1 forward\\(s\\) active\\)`));
      assert.equal(check(report!, "local-ports").status, "ok");
      const socketPath = (await daemon.status()).docker.client_socket!;
      const sock = check(report!, "docker-socket");
      assert.equal(sock.status, "ok", sock.detail);
      assert.match(sock.detail, new RegExp(`^${socketPath.replace(/[.]/g, "\\.")}: mode 0600 in a private directory; GET /_ping answered in \\d+ ms`));
      assert.equal(code, 0, JSON.stringify(report!.checks.filter((c) => c.status !== "ok")));

      // A socket others may reach is a failure, with the fix.
      chmodSync(socketPath, 0o660);
      const loose = check((await doctor()).report!, "docker-socket");
      assert.equal(loose.status, "fail");
      assert.match(`${loose.detail} / ${loose.hint}`, /mode 0660: others may reach the remote Docker host[\s\S]*chmod 600/);
    } finally {
      await daemon.stop();
    }
    // The daemon's files stay in stateDir; the next tests ignore a stopped instance.
  });

  it("warns, not fails, when sshd refuses stream-local forwarding: rdhpf uses dial-stdio", async () => {
    await tb.restartSshd({ extraConfig: [...KEEPALIVE, "AllowStreamLocalForwarding no"] });
    try {
      const { code, report } = await doctor();
      const sl = check(report!, "stream-local-forwarding");
      assert.equal(sl.status, "warn");
      assert.match(sl.detail, /dial-stdio/);
      assert.match(sl.detail, /AllowStreamLocalForwarding no/);
      assert.equal(check(report!, "docker").status, "ok");
      assert.equal(code, 0);
    } finally {
      await tb.restartSshd({ extraConfig: KEEPALIVE });
    }
  });

  it("fails the host key check for an unknown host key and leaves known_hosts unchanged", async () => {
    const saved = readFileSync(tb.knownHostsFile, "utf8");
    writeFileSync(tb.knownHostsFile, "");
    try {
      const { code, report } = await doctor();
      assert.equal(code, 1);
      const hk = check(report!, "host-key");
      assert.equal(hk.status, "fail");
      assert.match(hk.detail, /host key/i);
      assert.match(hk.hint ?? "", /ssh-keyscan/);
      assert.equal(check(report!, "docker").status, "skipped");
      assert.equal(readFileSync(tb.knownHostsFile, "utf8"), "");
    } finally {
      writeFileSync(tb.knownHostsFile, saved);
    }
  });

  it("ends its connection attempt and removes its directory when interrupted (SIGINT: exit 130)", async () => {
    const before = new Set(doctorTmpDirs());
    // A stopped sshd: the kernel accepts the TCP connection, ssh waits for a banner that never
    // comes, so the signal lands mid-connect.
    const sshd = tb.pids().sshd!;
    process.kill(sshd, "SIGSTOP");
    try {
      const child = spawn(BINARY, ["doctor", "--host", tb.alias, "-F", tb.sshConfigFile], { env: { ...cleanEnv(), RDHPF_STATE_DIR: stateDir }, stdio: "ignore" });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      // The master, not `ssh -V` or `ssh -G`, which the doctor runs first and which end by themselves.
      const isMaster = (pid: number) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("ControlMaster=yes");
        } catch {
          return false;
        }
      };
      const [sshPid] = await waitFor("the doctor's master ssh is connecting", () => childrenOf(child.pid!).find(([pid, comm]) => comm === "ssh" && isMaster(pid)), 10_000);
      child.kill("SIGINT");
      assert.equal(await exited, 130);
      await waitFor("its ssh ended", () => !existsSync(`/proc/${sshPid}`) || readFileSync(`/proc/${sshPid}/stat`, "utf8").includes(") Z "), 3000);
      assert.deepEqual(doctorTmpDirs().filter((d) => !before.has(d)), []);
    } finally {
      process.kill(sshd, "SIGCONT");
    }
  });

  it("fails the Docker check when the remote dockerd is stopped", async () => {
    await tb.stopDockerd();
    const { code, report } = await doctor();
    assert.equal(code, 1);
    const d = check(report!, "docker");
    assert.equal(d.status, "fail");
    assert.ok(d.hint, "a fix is given");
    assert.equal(check(report!, "connection").status, "ok");
    assert.equal(check(report!, "local-ports").status, "skipped");
  });
});

describe("rdhpf doctor without a usable TARGET", () => {
  it("exits 2 for a malformed TARGET, before ssh sees it", async () => {
    requireBinary();
    const r = await rdhpf(["doctor", "--host", "-oProxyCommand=touch /tmp/rdhpf-pwned"], { RDHPF_STATE_DIR: "/tmp/rdhpf-e2e-never" });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /invalid SSH target/);
  });

  it("fails the TARGET check (exit 1) and still runs the local checks when no host is given", async () => {
    requireBinary();
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-doctor-"));
    try {
      // XDG_CONFIG_HOME: no config file of this machine's user supplies a host.
      const { code, stdout } = await rdhpf(["doctor", "--format", "json"], { RDHPF_STATE_DIR: dir, XDG_CONFIG_HOME: dir });
      assert.equal(code, 1);
      const report = DoctorReportSchema.parse(JSON.parse(stdout));
      assert.equal(report.host, null);
      assert.equal(check(report, "target").status, "fail");
      assert.match(check(report, "target").hint ?? "", /--host/);
      assert.equal(check(report, "runtime-dir").status, "ok");
      assert.equal(check(report, "connection").status, "skipped");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
