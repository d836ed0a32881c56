import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { forwardSpec, type LocalForward, muxForward, muxSocketForward, quoteRemoteWord, type SshContext, type SshOperation, sshArgv, socketForwardSpec } from "./argv.ts";
import { parseTarget } from "./target.ts";

function ctx(over: Partial<SshContext> = {}): SshContext {
  return {
    sshBinary: "ssh",
    configFile: "/etc/rdhpf/ssh_config",
    options: ["ServerAliveInterval=60", "User=deploy"],
    target: parseTarget("ssh://root@[fd00::1]:2222"),
    controlPath: "/run/user/1000/rdhpf/0a1b2c3d4e5f.ssh.sock",
    ...over,
  };
}

const fwd = (localPort: number, bindAddress = "127.0.0.1", remoteHost = "127.0.0.1", remotePort = localPort): LocalForward => ({ bindAddress, localPort, remoteHost, remotePort });

const ALL_OPS: SshOperation[] = [
  { kind: "master" },
  { kind: "check" },
  { kind: "exit" },
  { kind: "forward", forwards: [fwd(5432), fwd(5432, "::1")] },
  { kind: "cancel", forwards: [fwd(5432)] },
  { kind: "forward-socket", localPath: "/run/rdhpf/k.docker.sock", remotePath: "/var/run/docker.sock" },
  { kind: "cancel-socket", localPath: "/run/rdhpf/k.docker.sock", remotePath: "/var/run/docker.sock" },
  { kind: "command", command: ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"] },
  { kind: "resolve" },
];

/** The value of every "-o" in an argv (up to "--"). */
function oValues(argv: string[]): string[] {
  const out: string[] = [];
  const end = argv.indexOf("--");
  for (let i = 0; i < end; i++) if (argv[i] === "-o") out.push(argv[i + 1]!);
  return out;
}

describe("sshArgv", () => {
  for (const op of ALL_OPS) {
    it(`${op.kind}: passes the destination right after "--"`, () => {
      const argv = sshArgv(op, ctx());
      const dd = argv.indexOf("--");
      assert.ok(dd > 0);
      assert.equal(argv[dd + 1], "root@fd00::1");
      assert.equal(argv.filter((a) => a === "--").length, 1);
    });
    it(`${op.kind}: never uses -M and always BatchMode=yes`, () => {
      const argv = sshArgv(op, ctx());
      assert.ok(!argv.includes("-M"));
      if (op.kind !== "resolve") assert.ok(oValues(argv).includes("BatchMode=yes"));
    });
    it(`${op.kind}: never relaxes host key checking`, () => {
      const argv = sshArgv(op, ctx());
      assert.ok(!argv.some((a) => /StrictHostKeyChecking|UserKnownHostsFile/i.test(a)));
    });
  }

  it("master: owns the ControlMaster with keepalives and rdhpf's options before the user's", () => {
    const argv = sshArgv({ kind: "master" }, ctx());
    assert.deepEqual(argv, [
      "-N", "-T",
      "-S", "/run/user/1000/rdhpf/0a1b2c3d4e5f.ssh.sock",
      "-o", "ControlMaster=yes",
      "-o", "ControlPersist=no",
      "-o", "BatchMode=yes",
      "-o", "LogLevel=INFO",
      "-o", "ExitOnForwardFailure=no",
      "-o", "ClearAllForwardings=yes",
      "-o", "ForkAfterAuthentication=no",
      "-F", "/etc/rdhpf/ssh_config",
      "-p", "2222",
      "-o", "ServerAliveInterval=60",
      "-o", "User=deploy",
      "-o", "ServerAliveInterval=3",
      "-o", "ServerAliveCountMax=2",
      "-o", "TCPKeepAlive=yes",
      "-o", "ConnectTimeout=10",
      "--", "root@fd00::1",
    ]);
  });

  it("master: a user's keepalive comes before rdhpf's default, so it wins (ssh keeps the first value)", () => {
    const o = oValues(sshArgv({ kind: "master" }, ctx()));
    assert.ok(o.indexOf("ServerAliveInterval=60") < o.indexOf("ServerAliveInterval=3"));
  });

  it("master: without -F, port or options passes none", () => {
    const argv = sshArgv({ kind: "master" }, ctx({ configFile: null, options: [], target: parseTarget("dockerhost") }));
    assert.ok(!argv.includes("-F"));
    assert.ok(!argv.includes("-p"));
    assert.deepEqual(argv.slice(-2), ["--", "dockerhost"]);
  });

  const muxOps = ALL_OPS.filter((op) => op.kind !== "master" && op.kind !== "resolve");
  for (const op of muxOps) {
    it(`${op.kind}: goes through the socket and can never open a connection of its own`, () => {
      const argv = sshArgv(op, ctx());
      assert.deepEqual(argv.slice(0, 4), ["-F", "/dev/null", "-S", "/run/user/1000/rdhpf/0a1b2c3d4e5f.ssh.sock"]);
      const o = oValues(argv);
      for (const required of ["ControlMaster=no", "BatchMode=yes", "LogLevel=ERROR", "ProxyCommand=false"]) assert.ok(o.includes(required), required);
      // The user's config and options are for the master only.
      assert.ok(!argv.includes("/etc/rdhpf/ssh_config"));
      assert.ok(!o.includes("User=deploy"));
    });
  }

  it("check and exit use -O", () => {
    assert.deepEqual(sshArgv({ kind: "check" }, ctx()).slice(-4), ["-O", "check", "--", "root@fd00::1"]);
    assert.deepEqual(sshArgv({ kind: "exit" }, ctx()).slice(-4), ["-O", "exit", "--", "root@fd00::1"]);
  });

  it("forward carries many -L in one process", () => {
    const argv = sshArgv({ kind: "forward", forwards: [fwd(80), fwd(80, "::1"), fwd(5432, "127.0.0.1", "fd00::5", 5433)] }, ctx());
    assert.deepEqual(argv.slice(argv.indexOf("-O")), [
      "-O", "forward",
      "-L", "127.0.0.1:80:127.0.0.1:80",
      "-L", "[::1]:80:127.0.0.1:80",
      "-L", "127.0.0.1:5432:[fd00::5]:5433",
      "--", "root@fd00::1",
    ]);
  });

  it("cancel repeats the exact -L", () => {
    const argv = sshArgv({ kind: "cancel", forwards: [fwd(8080, "::1", "10.0.0.7", 80)] }, ctx());
    assert.deepEqual(argv.slice(argv.indexOf("-O")), ["-O", "cancel", "-L", "[::1]:8080:10.0.0.7:80", "--", "root@fd00::1"]);
  });

  it("socket forwards use -O forward / -O cancel with a path spec", () => {
    const f = sshArgv({ kind: "forward-socket", localPath: "/r/k.docker.sock", remotePath: "/var/run/docker.sock" }, ctx());
    assert.deepEqual(f.slice(f.indexOf("-O")), ["-O", "forward", "-L", "/r/k.docker.sock:/var/run/docker.sock", "--", "root@fd00::1"]);
    const c = sshArgv({ kind: "cancel-socket", localPath: "/r/k.docker.sock", remotePath: "/var/run/docker.sock" }, ctx());
    assert.deepEqual(c.slice(c.indexOf("-O")), ["-O", "cancel", "-L", "/r/k.docker.sock:/var/run/docker.sock", "--", "root@fd00::1"]);
  });

  it("command: passes each word single-quoted after the destination", () => {
    const argv = sshArgv({ kind: "command", command: ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"] }, ctx());
    assert.deepEqual(argv.slice(argv.indexOf("-T")), ["-T", "--", "root@fd00::1", "'docker'", "'context'", "'inspect'", "'--format'", "'{{.Endpoints.docker.Host}}'"]);
  });

  it("command: refuses an empty command", () => {
    assert.throws(() => sshArgv({ kind: "command", command: [] }, ctx()), RangeError);
  });

  it("resolve: ssh -G with the same config, port and options as the master", () => {
    assert.deepEqual(sshArgv({ kind: "resolve" }, ctx()), [
      "-G", "-T", "-F", "/etc/rdhpf/ssh_config", "-p", "2222", "-o", "ServerAliveInterval=60", "-o", "User=deploy", "--", "root@fd00::1",
    ]);
  });

  it("version: only -V, no config, no destination (it contacts nobody)", () => {
    assert.deepEqual(sshArgv({ kind: "version" }, ctx()), ["-V"]);
  });

  it("escapes % in the control path, which ssh would expand as a token", () => {
    const argv = sshArgv({ kind: "check" }, ctx({ controlPath: "/tmp/100%/x.sock" }));
    assert.equal(argv[argv.indexOf("-S") + 1], "/tmp/100%%/x.sock");
  });

  it("keeps a control path with spaces as one argument", () => {
    const argv = sshArgv({ kind: "master" }, ctx({ controlPath: "/Users/A B/.rdhpf/k.ssh.sock" }));
    assert.equal(argv[argv.indexOf("-S") + 1], "/Users/A B/.rdhpf/k.ssh.sock");
  });
});

describe("forwardSpec", () => {
  const cases: Array<[LocalForward, string]> = [
    [fwd(5432), "127.0.0.1:5432:127.0.0.1:5432"],
    [fwd(5432, "::1"), "[::1]:5432:127.0.0.1:5432"],
    [fwd(8080, "127.0.0.1", "10.1.2.3", 80), "127.0.0.1:8080:10.1.2.3:80"],
    [fwd(8080, "::1", "fd00::2", 80), "[::1]:8080:[fd00::2]:80"],
    [fwd(3000, "0.0.0.0"), "0.0.0.0:3000:127.0.0.1:3000"],
    [fwd(3000, "localhost"), "localhost:3000:127.0.0.1:3000"],
  ];
  for (const [f, spec] of cases) it(`writes ${spec}`, () => assert.equal(forwardSpec(f), spec));

  const bad: LocalForward[] = [fwd(0), fwd(65536), fwd(1.5), fwd(80, "-oProxyCommand=x"), fwd(80, "a b"), fwd(80, "127.0.0.1", "x\ny"), fwd(80, "127.0.0.1", "not:v6"), fwd(80, "")];
  for (const f of bad) it(`refuses ${JSON.stringify(f)}`, () => assert.throws(() => forwardSpec(f), RangeError));
});

describe("socketForwardSpec", () => {
  it("joins two absolute paths", () => assert.equal(socketForwardSpec("/a/l.sock", "/var/run/docker.sock"), "/a/l.sock:/var/run/docker.sock"));
  for (const [l, r] of [["rel.sock", "/x"], ["/a:b", "/x"], ["/a", "/x\n"], ["/a", "x"]]) {
    it(`refuses ${JSON.stringify([l, r])}`, () => assert.throws(() => socketForwardSpec(l!, r!), RangeError));
  }
});

describe("muxForward and muxSocketForward", () => {
  it("carry the addresses as ssh's -L parser leaves them: IPv6 without brackets", () => {
    assert.deepEqual(muxForward({ bindAddress: "::1", localPort: 5432, remoteHost: "fd00::2", remotePort: 80 }), { listenHost: "::1", listenPort: 5432, connectHost: "fd00::2", connectPort: 80 });
  });
  it("refuse what forwardSpec and socketForwardSpec refuse", () => {
    assert.throws(() => muxForward({ bindAddress: "-oProxyCommand=x", localPort: 1, remoteHost: "127.0.0.1", remotePort: 1 }), RangeError);
    assert.throws(() => muxForward({ bindAddress: "127.0.0.1", localPort: 0, remoteHost: "127.0.0.1", remotePort: 1 }), RangeError);
    assert.throws(() => muxSocketForward("relative.sock", "/var/run/docker.sock"), RangeError);
  });
  it("mark both ends of a socket forward with the port PORT_STREAMLOCAL", () => {
    assert.deepEqual(muxSocketForward("/r/k.sock", "/var/run/docker.sock"), { listenHost: "/r/k.sock", listenPort: 0xfffffffe, connectHost: "/var/run/docker.sock", connectPort: 0xfffffffe });
  });
});

describe("quoteRemoteWord", () => {
  const cases: Array<[string, string]> = [
    ["docker", "'docker'"],
    ["{{.Endpoints.docker.Host}}", "'{{.Endpoints.docker.Host}}'"],
    ["it's", "'it'\\''s'"],
    ["$(rm -rf /)", "'$(rm -rf /)'"],
    ["", "''"],
  ];
  for (const [w, q] of cases) it(`quotes ${JSON.stringify(w)} as ${q}`, () => assert.equal(quoteRemoteWord(w), q));
  it("refuses control characters", () => assert.throws(() => quoteRemoteWord("a\nb"), RangeError));
});

