import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildReport, type DoctorFacts, maxSocketPathBytes } from "./checks.ts";
import { type CheckId, type CheckStatus, DoctorReportSchema } from "./report.ts";

const sshd = (extra: Record<string, string> = {}): DoctorFacts["sshd"] => ({
  known: true,
  configFile: null,
  values: new Map(Object.entries({ allowtcpforwarding: "yes", allowstreamlocalforwarding: "yes", disableforwarding: "no", permitopen: "any", maxsessions: "10", clientaliveinterval: "60", clientalivecountmax: "3", ...extra })),
});

/** What the probes find on a healthy host. */
function healthy(): DoctorFacts {
  return {
    rdhpfVersion: "1.2.3",
    platform: "linux",
    sshClient: { version: "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15" },
    target: { raw: "dockerbox", source: "--host", identity: "root@10.0.0.2:22", resolved: { user: "root", hostname: "10.0.0.2", port: 22 } },
    sshConfigFindings: [],
    strictHostKeyChecking: "true",
    connection: { ok: true, durationMs: 180 },
    docker: { ok: true, endpoint: "unix:///var/run/docker.sock", endpointKind: "unix", transport: "socket-forward", serverVersion: "20.10.24", apiVersion: "1.41", publishedTcpPorts: 2 },
    ipv6Loopback: true,
    sshd: sshd(),
    agent: { socket: null, source: null, reachable: null, keyFiles: ["/home/me/.ssh/id_ed25519"] },
    socketPaths: [{ path: "/run/user/1000/rdhpf/0a1b2c3d4e5f.ssh.sock", bytes: 59, maxBytes: 107 }],
    runtimeDir: { dir: "/run/user/1000/rdhpf", state: "ok" },
    instance: null,
    maxDockerSessions: 8,
    dockerSocket: { served: true, path: "/run/user/1000/rdhpf/dockerbox.sock", file: { isSocket: true, mode: 0o140600 }, dir: "ok", ping: { ok: true, durationMs: 3 } },
    ports: { wanted: 2, busy: [], onConflict: "wait" },
  };
}

const servedSocket = () => healthy().dockerSocket as Extract<DoctorFacts["dockerSocket"], { served: true }>;

function statusOf(f: DoctorFacts, id: CheckId): CheckStatus {
  return buildReport(f).checks.find((c) => c.id === id)!.status;
}

const authFailure: DoctorFacts["connection"] = { ok: false, kind: "auth", problem: { message: "Permission denied (publickey).", hint: "check ssh-agent" } };

/** [what, change to the healthy facts, check, expected status] */
const CASES: Array<[string, (f: DoctorFacts) => void, CheckId, CheckStatus]> = [
  ["no ssh client", (f) => (f.sshClient = { problem: { message: "cannot run the ssh client \"ssh\"", hint: "install OpenSSH" } }), "ssh-client", "fail"],
  ["no TARGET", (f) => (f.target = { raw: null, problem: { message: "no Docker host given", hint: "pass --host" } }), "target", "fail"],
  ["no TARGET: remote checks skipped", (f) => {
    f.target = { raw: null, problem: { message: "no Docker host given", hint: null } };
    f.connection = null;
    f.docker = null;
    f.sshd = null;
  }, "docker", "skipped"],
  ["an ssh config setting that fights rdhpf", (f) => (f.sshConfigFindings = [{ key: "LocalForward", value: "5432 localhost:5432", severity: "warn", message: "LocalForward ...", hint: "move it" }]), "ssh-config", "warn"],
  ["an unknown host key", (f) => (f.connection = { ok: false, kind: "host-key-unknown", problem: { message: "No ED25519 host key is known", hint: "ssh-keyscan" } }), "host-key", "fail"],
  ["an unknown host key: connection skipped, not failed twice", (f) => (f.connection = { ok: false, kind: "host-key-unknown", problem: { message: "x", hint: null } }), "connection", "skipped"],
  ["a refused connection: host key not reached", (f) => (f.connection = { ok: false, kind: "unreachable", problem: { message: "Connection refused", hint: null } }), "host-key", "skipped"],
  ["an auth failure: the host key was accepted before", (f) => (f.connection = authFailure), "host-key", "ok"],
  ["an auth failure", (f) => (f.connection = authFailure), "connection", "fail"],
  ["an auth failure without agent or key file", (f) => {
    f.connection = authFailure;
    f.agent = { socket: null, source: null, reachable: null, keyFiles: [] };
  }, "ssh-agent", "fail"],
  ["keys only in the agent from SSH_AUTH_SOCK (a service would not get it)", (f) => (f.agent = { socket: "/tmp/ssh-X/agent.1", source: "SSH_AUTH_SOCK", reachable: true, keyFiles: [] }), "ssh-agent", "warn"],
  ["an agent named by IdentityAgent", (f) => (f.agent = { socket: "/home/me/.1password/agent.sock", source: "IdentityAgent", reachable: true, keyFiles: [] }), "ssh-agent", "ok"],
  ["a dead agent socket while key files log in", (f) => (f.agent = { socket: "/tmp/gone", source: "SSH_AUTH_SOCK", reachable: false, keyFiles: ["/k"] }), "ssh-agent", "warn"],
  ["Docker unreachable", (f) => (f.docker = { ok: false, endpoint: "unix:///var/run/docker.sock", problem: { message: "cannot reach the remote Docker engine", hint: "docker version" } }), "docker", "fail"],
  ["Docker unreachable: ports skipped", (f) => (f.docker = { ok: false, endpoint: null, problem: { message: "x", hint: null } }), "local-ports", "skipped"],
  ["Docker unreachable: stream-local unknown", (f) => (f.docker = { ok: false, endpoint: null, problem: { message: "x", hint: null } }), "stream-local-forwarding", "unknown"],
  ["the dial-stdio fallback for a unix endpoint", (f) => {
    if (f.docker?.ok) f.docker.transport = "dial-stdio";
  }, "stream-local-forwarding", "warn"],
  ["a tcp endpoint (dial-stdio by design)", (f) => {
    if (f.docker?.ok) Object.assign(f.docker, { endpoint: "tcp://127.0.0.1:2375", endpointKind: "tcp", transport: "dial-stdio" });
  }, "stream-local-forwarding", "ok"],
  ["no IPv6 loopback", (f) => (f.ipv6Loopback = false), "ipv6-loopback", "warn"],
  ["AllowTcpForwarding no", (f) => (f.sshd = sshd({ allowtcpforwarding: "no" })), "sshd-tcp-forwarding", "fail"],
  ["AllowTcpForwarding local", (f) => (f.sshd = sshd({ allowtcpforwarding: "local" })), "sshd-tcp-forwarding", "ok"],
  ["DisableForwarding yes", (f) => (f.sshd = sshd({ disableforwarding: "yes" })), "sshd-tcp-forwarding", "fail"],
  ["a PermitOpen restriction", (f) => (f.sshd = sshd({ permitopen: "127.0.0.1:5432" })), "sshd-tcp-forwarding", "warn"],
  ["sshd settings unknown (sshd -T needs root)", (f) => (f.sshd = { known: false, configFile: null, reason: "sshd: no hostkeys available -- exiting." }), "sshd-tcp-forwarding", "unknown"],
  ["sshd settings unknown: keepalive unknown, not failed", (f) => (f.sshd = { known: false, configFile: null, reason: "x" }), "sshd-keepalive", "unknown"],
  ["MaxSessions 0", (f) => (f.sshd = sshd({ maxsessions: "0" })), "sshd-max-sessions", "fail"],
  ["MaxSessions 3 with dial-stdio", (f) => {
    f.sshd = sshd({ maxsessions: "3" });
    if (f.docker?.ok) f.docker.transport = "dial-stdio";
  }, "sshd-max-sessions", "warn"],
  ["MaxSessions 3 with dial-stdio and --max-docker-sessions 2 (rdhpf queues the rest)", (f) => {
    f.sshd = sshd({ maxsessions: "3" });
    f.maxDockerSessions = 2;
    if (f.docker?.ok) f.docker.transport = "dial-stdio";
  }, "sshd-max-sessions", "ok"],
  ["MaxSessions 3 with the socket forward", (f) => (f.sshd = sshd({ maxsessions: "3" })), "sshd-max-sessions", "ok"],
  ["no ClientAliveInterval", (f) => (f.sshd = sshd({ clientaliveinterval: "0" })), "sshd-keepalive", "warn"],
  ["a socket path too long for the platform", (f) => (f.socketPaths = [{ path: "/very/long", bytes: 120, maxBytes: 103 }]), "socket-paths", "fail"],
  ["a runtime dir of another user", (f) => (f.runtimeDir = { dir: "/x", problem: { message: "belongs to uid 0", hint: "RDHPF_STATE_DIR" } }), "runtime-dir", "fail"],
  ["a runtime dir readable by others", (f) => (f.runtimeDir = { dir: "/x", state: "tighten" }), "runtime-dir", "warn"],
  ["no runtime dir yet", (f) => (f.runtimeDir = { dir: "/x", state: "missing" }), "runtime-dir", "ok"],
  ["a connected instance for the host", (f) => (f.instance = { live: true, pid: 42, state: "connected", lastError: null, activeLocalPorts: [8080] }), "instance", "ok"],
  ["a degraded instance for the host", (f) => (f.instance = { live: true, pid: 42, state: "degraded", lastError: "docker events stream ended", activeLocalPorts: [] }), "instance", "warn"],
  ["an instance that does not answer", (f) => (f.instance = { live: false, pid: 42, unresponsive: true, staleAgeS: 30 }), "instance", "warn"],
  ["rdhpf's socket not served because rdhpf does not run", (f) => (f.dockerSocket = { served: false, path: "/run/user/1000/rdhpf/dockerbox.sock" }), "docker-socket", "ok"],
  ["rdhpf's socket turned off", (f) => (f.dockerSocket = { served: false, path: "off" }), "docker-socket", "ok"],
  ["rdhpf's socket file gone while rdhpf runs", (f) => (f.dockerSocket = { ...servedSocket(), file: null }), "docker-socket", "fail"],
  ["something else than a socket at its path", (f) => (f.dockerSocket = { ...servedSocket(), file: { isSocket: false, mode: 0o100600 } }), "docker-socket", "fail"],
  ["rdhpf's socket readable by the group", (f) => (f.dockerSocket = { ...servedSocket(), file: { isSocket: true, mode: 0o140660 } }), "docker-socket", "fail"],
  ["rdhpf's socket in a directory others can enter", (f) => (f.dockerSocket = { ...servedSocket(), dir: "mode 755" }), "docker-socket", "fail"],
  ["rdhpf's socket not answering GET /_ping", (f) => (f.dockerSocket = { ...servedSocket(), ping: { ok: false, error: "no answer within 10 s" } }), "docker-socket", "fail"],
  ["a busy local port", (f) => (f.ports = { wanted: 2, busy: [{ localPort: 5432, remotePort: 5432, containerName: "db", owner: "pid 812 (postgres)" }], onConflict: "wait" }), "local-ports", "fail"],
  ["a busy local port with on-conflict next-free", (f) => (f.ports = { wanted: 2, busy: [{ localPort: 5432, remotePort: 5432, containerName: "db", owner: null }], onConflict: "next-free" }), "local-ports", "warn"],
];

describe("buildReport", () => {
  it("passes every check on a healthy host, in the fixed order, and validates", () => {
    const r = buildReport(healthy());
    assert.deepEqual(r.checks.filter((c) => c.status !== "ok"), []);
    assert.equal(r.ok, true);
    assert.deepEqual(r.summary, { ok: 17, warn: 0, fail: 0, unknown: 0, skipped: 0 });
    assert.equal(r.checks[0]!.id, "ssh-client");
    assert.equal(r.checks.at(-1)!.id, "sshd-keepalive");
    DoctorReportSchema.parse(r);
  });

  for (const [what, change, id, expected] of CASES) {
    it(`judges ${what}: ${id} ${expected}`, () => {
      const f = healthy();
      change(f);
      const r = buildReport(f);
      const c = r.checks.find((x) => x.id === id)!;
      assert.equal(c.status, expected, c.detail);
      if (expected === "fail" || expected === "warn" || expected === "unknown") assert.ok(c.hint, `${id} gives a fix`);
      assert.equal(r.ok, !r.checks.some((x) => x.status === "fail"));
      DoctorReportSchema.parse(r);
    });
  }

  it("names the owner and the way out of a busy port", () => {
    const f = healthy();
    f.ports = { wanted: 1, busy: [{ localPort: 5432, remotePort: 5432, containerName: "db", owner: "pid 812 (postgres)" }], onConflict: "wait" };
    const c = buildReport(f).checks.find((x) => x.id === "local-ports")!;
    assert.equal(c.detail, "local port 5432 (container db, remote port 5432) is in use by pid 812 (postgres)");
    assert.match(c.hint!, /lsof -nP -i :5432.*--map 5432:LOCAL.*--exclude-ports 5432/);
  });

  it("suggests a --max-docker-sessions below sshd's MaxSessions on the dial-stdio path", () => {
    const f = healthy();
    f.sshd = sshd({ maxsessions: "4" });
    if (f.docker?.ok) f.docker.transport = "dial-stdio";
    const c = buildReport(f).checks.find((x) => x.id === "sshd-max-sessions")!;
    assert.match(c.detail, /MaxSessions 4; with dial-stdio rdhpf may hold up to 9 sessions/);
    assert.match(c.hint!, /--max-docker-sessions 3/);
  });

  it("says when the user's host key policy would add keys silently", () => {
    const f = healthy();
    f.strictHostKeyChecking = "accept-new";
    assert.match(buildReport(f).checks.find((x) => x.id === "host-key")!.detail, /StrictHostKeyChecking accept-new; doctor checks strictly and never adds keys/);
  });

  it("keeps the unresolved TARGET as given", () => {
    const f = healthy();
    f.target = { raw: "ssh://bad host", problem: { message: "invalid", hint: null } };
    const r = buildReport(f);
    assert.equal(r.host, "ssh://bad host");
    assert.equal(r.resolved, null);
    assert.equal(statusOf(f, "instance"), "skipped");
  });
});

describe("maxSocketPathBytes", () => {
  it("is sun_path minus the NUL: 103 on macOS, 107 on Linux", () => {
    assert.equal(maxSocketPathBytes("darwin"), 103);
    assert.equal(maxSocketPathBytes("linux"), 107);
  });
});
