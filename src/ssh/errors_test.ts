import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { classifySshStderr, isConfigurationFailure, retryWhileRunning, spawnFailure, type SshErrorKind } from "./errors.ts";

// Every stderr below was printed by OpenSSH 9.2p1 (Debian 12), with the
// options rdhpf uses (BatchMode=yes, LogLevel=ERROR for clients, INFO for the
// master), against a real sshd on loopback. "\r\n" is what ssh really writes.
const REAL: Array<{ name: string; stderr: string; kind: SshErrorKind; message: string; hint: RegExp | null }> = [
  {
    name: "unknown host key",
    stderr: "No ED25519 host key is known for [127.0.0.1]:33561 and you have requested strict checking.\r\nHost key verification failed.\r\n",
    kind: "host-key-unknown",
    message: "No ED25519 host key is known for [127.0.0.1]:33561 and you have requested strict checking.",
    hint: /ssh-keyscan -p 33561 127\.0\.0\.1 >> ~\/\.ssh\/known_hosts.*fingerprint/,
  },
  {
    name: "unknown host key on port 22",
    stderr: "No ED25519 host key is known for 10.200.0.2 and you have requested strict checking.\r\nHost key verification failed.\r\n",
    kind: "host-key-unknown",
    message: "No ED25519 host key is known for 10.200.0.2 and you have requested strict checking.",
    hint: /ssh-keyscan -p 22 10\.200\.0\.2/,
  },
  {
    name: "changed host key",
    stderr: [
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
      "Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
      "It is also possible that a host key has just been changed.",
      "The fingerprint for the ED25519 key sent by the remote host is\nSHA256:IQtoOM9s+deugND5Cc+Fqa5hXx1gN5RauVTYPZYjZ60.",
      "Please contact your system administrator.",
      "Add correct host key in /tmp/t/wrong_known to get rid of this message.",
      "Offending ED25519 key in /tmp/t/wrong_known:1",
      "  remove with:",
      '  ssh-keygen -f "/tmp/t/wrong_known" -R "[127.0.0.1]:33561"',
      "Host key for [127.0.0.1]:33561 has changed and you have requested strict checking.",
      "Host key verification failed.",
      "",
    ].join("\r\n"),
    kind: "host-key-changed",
    message: "Host key for [127.0.0.1]:33561 has changed and you have requested strict checking.",
    hint: /SHA256:IQtoOM9s\+deugND5Cc\+Fqa5hXx1gN5RauVTYPZYjZ60.*ssh-keygen -f "\/tmp\/t\/wrong_known" -R "\[127\.0\.0\.1\]:33561"/,
  },
  {
    name: "key not accepted",
    stderr: "root@127.0.0.1: Permission denied (publickey).\r\n",
    kind: "auth",
    message: "root@127.0.0.1: Permission denied (publickey).",
    hint: /BatchMode=yes.*SSH_AUTH_SOCK/,
  },
  {
    name: "connection refused",
    stderr: "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n",
    kind: "unreachable",
    message: "ssh: connect to host 127.0.0.1 port 1: Connection refused",
    hint: /127\.0\.0\.1 port 1/,
  },
  {
    name: "unknown host name",
    stderr: "ssh: Could not resolve hostname nonexistent.invalid: Name or service not known\r\n",
    kind: "dns",
    message: "ssh: Could not resolve hostname nonexistent.invalid: Name or service not known",
    hint: /nonexistent\.invalid.*ssh -G/,
  },
  {
    name: "server accepts TCP but never speaks SSH",
    stderr: "Connection timed out during banner exchange\r\n",
    kind: "timeout",
    message: "Connection timed out during banner exchange",
    hint: /did not answer in time/,
  },
  {
    name: "master ended by its keepalive (master at LogLevel INFO)",
    stderr: "Timeout, server 127.0.0.1 not responding.\r\n",
    kind: "timeout",
    message: "Timeout, server 127.0.0.1 not responding.",
    hint: /did not answer/,
  },
  {
    name: "remote sshd ended the master's connection",
    stderr: "Connection to 127.0.0.1 closed by remote host.\r\n",
    kind: "unreachable",
    message: "Connection to 127.0.0.1 closed by remote host.",
    hint: /closed/,
  },
  {
    name: "mux command with a dead socket (ProxyCommand=false stops the fallback)",
    stderr: "kex_exchange_identification: Connection closed by remote host\r\n",
    kind: "unreachable",
    message: "kex_exchange_identification: Connection closed by remote host",
    hint: /closed/,
  },
  {
    name: "no control socket",
    stderr: "Control socket connect(/tmp/t/nope.sock): No such file or directory\r\n",
    kind: "master-gone",
    message: "Control socket connect(/tmp/t/nope.sock): No such file or directory",
    hint: /not running/,
  },
  {
    name: "stale control socket after SIGKILL",
    stderr: "Control socket connect(/tmp/t/dead.sock): Connection refused\r\n",
    kind: "master-gone",
    message: "Control socket connect(/tmp/t/dead.sock): Connection refused",
    hint: /not running/,
  },
  {
    name: "master started on an existing socket path",
    stderr: "ControlSocket /tmp/t/dead.sock already exists, disabling multiplexing\r\n",
    kind: "control-socket-in-use",
    message: "ControlSocket /tmp/t/dead.sock already exists, disabling multiplexing",
    hint: /another SSH master serves \/tmp\/t\/dead\.sock/,
  },
  {
    name: "master: local port busy",
    stderr:
      "bind [127.0.0.1]:40002: Address already in use\r\nchannel_setup_fwd_listener_tcpip: cannot listen to port: 40002\r\nmux_master_process_open_fwd: requested local forward 127.0.0.1:40002 -> 127.0.0.1:22 failed\r\n",
    kind: "port-in-use",
    message: "bind [127.0.0.1]:40002: Address already in use",
    hint: /local port 40002 is in use.*lsof -nP -i :40002/,
  },
  {
    name: "master: IPv6 loopback port busy",
    stderr: "bind [::1]:40002: Address already in use\r\n",
    kind: "port-in-use",
    message: "bind [::1]:40002: Address already in use",
    hint: /40002/,
  },
  {
    name: "master: privileged port as a normal user",
    stderr:
      "bind [127.0.0.1]:80: Permission denied\r\nchannel_setup_fwd_listener_tcpip: cannot listen to port: 80\r\nmux_master_process_open_fwd: requested local forward 127.0.0.1:80 -> 127.0.0.1:22 failed\r\n",
    kind: "bind-failed",
    message: "bind [127.0.0.1]:80: Permission denied",
    hint: /below 1024/,
  },
  {
    name: "master: bind address not on this machine",
    stderr: "bind [10.255.255.1]:41800: Cannot assign requested address\r\nchannel_setup_fwd_listener_tcpip: cannot listen to port: 41800\r\n",
    kind: "bind-failed",
    message: "bind [10.255.255.1]:41800: Cannot assign requested address",
    hint: /--bind/,
  },
  {
    name: "master: socket file left behind",
    stderr: "unix_listener: cannot bind to path /tmp/t/stale.sock: Address already in use\r\n",
    kind: "port-in-use",
    message: "unix_listener: cannot bind to path /tmp/t/stale.sock: Address already in use",
    hint: /\/tmp\/t\/stale\.sock/,
  },
  {
    name: "mux client: a forward failed (cause only in the master's stderr)",
    stderr: "mux_client_forward: forwarding request failed: Port forwarding failed\r\nmuxclient: master forward request failed\r\n",
    kind: "forward-failed",
    message: "mux_client_forward: forwarding request failed: Port forwarding failed",
    hint: null,
  },
  {
    name: "master at INFO: sshd refuses TCP forwarding",
    stderr: "channel 1: open failed: administratively prohibited: open failed\r\n",
    kind: "forward-refused",
    message: "channel 1: open failed: administratively prohibited: open failed",
    hint: /AllowTcpForwarding/,
  },
  {
    name: "master at INFO: sshd refuses stream-local forwarding",
    stderr: "channel 1: open failed: connect failed: open failed\r\n",
    kind: "stream-local-refused",
    message: "channel 1: open failed: connect failed: open failed",
    hint: /AllowStreamLocalForwarding.*dial-stdio/,
  },
];

describe("classifySshStderr", () => {
  for (const c of REAL) {
    it(`classifies "${c.name}" as ${c.kind}`, () => {
      const f = classifySshStderr(c.stderr);
      assert.equal(f.kind, c.kind);
      assert.equal(f.message, c.message);
      if (c.hint === null) assert.equal(f.hint, null);
      else assert.match(f.hint ?? "", c.hint);
    });
  }

  it("ignores the noise ssh prints on success", () => {
    const f = classifySshStderr("Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.\r\nMaster running (pid=5543)\r\nExit request sent.\r\n");
    assert.deepEqual(f, { kind: "unknown", message: "", hint: null });
  });

  it("reports unknown output with its last line, escaped", () => {
    const f = classifySshStderr("something odd\r\nbad \u001b[31mthing\r\n");
    assert.equal(f.kind, "unknown");
    assert.equal(f.message, "bad \\x1b[31mthing");
  });

  it("returns an empty message when ssh said nothing", () => {
    assert.deepEqual(classifySshStderr(""), { kind: "unknown", message: "", hint: null });
  });

  it("cuts a huge line", () => {
    const f = classifySshStderr("x".repeat(100_000));
    assert.ok(f.message.length <= 301);
  });

  it("prefers the bind failure over the mux client's generic line when both are present", () => {
    const f = classifySshStderr("bind [127.0.0.1]:80: Permission denied\nmux_client_forward: forwarding request failed: Port forwarding failed\n");
    assert.equal(f.kind, "bind-failed");
  });
});

describe("isConfigurationFailure", () => {
  // The whole table: which failures end `rdhpf run` at its first connection.
  const cases: Array<[SshErrorKind, boolean]> = [
    ["host-key-unknown", true],
    ["host-key-changed", true],
    ["auth", true],
    ["dns", true],
    ["unreachable", true],
    ["timeout", true],
    ["port-in-use", false],
    ["bind-failed", false],
    ["forward-refused", false],
    ["forward-failed", false],
    ["stream-local-refused", false],
    ["master-gone", false],
    ["control-socket-in-use", false],
    ["unknown", false],
  ];
  for (const [kind, fatal] of cases) it(`${kind} ${fatal ? "is" : "is not"} a configuration failure at first start`, () => assert.equal(isConfigurationFailure(kind), fatal));
});

describe("retryWhileRunning", () => {
  // The whole table: how each failure is retried once rdhpf has connected before.
  const cases: Array<[SshErrorKind, string]> = [
    ["host-key-unknown", "slowly"],
    ["host-key-changed", "slowly"],
    ["auth", "slowly"],
    ["dns", "watch-path"],
    ["unreachable", "watch-path"],
    ["timeout", "watch-path"],
    ["port-in-use", "backoff"],
    ["bind-failed", "backoff"],
    ["forward-refused", "backoff"],
    ["forward-failed", "backoff"],
    ["stream-local-refused", "backoff"],
    ["master-gone", "backoff"],
    ["control-socket-in-use", "backoff"],
    ["unknown", "backoff"],
  ];
  for (const [kind, retry] of cases) it(`${kind} is retried ${retry}`, () => assert.equal(retryWhileRunning(kind), retry));
});

describe("spawnFailure", () => {
  const err = (code: string) => Object.assign(new Error(`${code}: failed, posix_spawn 'ssh'`), { code });
  const cases: Array<{ code: string; message: RegExp; hint: RegExp; exitCode: 1 | 2 }> = [
    { code: "ENOENT", message: /cannot run the ssh client "ssh"/, hint: /install OpenSSH's client/, exitCode: 2 },
    { code: "EACCES", message: /permission denied/, hint: /executable file/, exitCode: 2 },
    { code: "E2BIG", message: /argument list too long \(E2BIG: 3 arguments, 14 bytes/, hint: /--max-forwards/, exitCode: 1 },
    { code: "EMFILE", message: /too many open files \(EMFILE\)/, hint: /ulimit -n/, exitCode: 1 },
    { code: "EAGAIN", message: /refuses a new process/, hint: /ulimit -u/, exitCode: 1 },
    { code: "EIO", message: /cannot start the ssh client "ssh": EIO: failed/, hint: /ssh -V/, exitCode: 1 },
  ];
  for (const c of cases) {
    it(`explains ${c.code} as what it is`, () => {
      const e = spawnFailure("ssh", ["-O", "forward", "-L"], err(c.code));
      assert.match(e.message, c.message);
      assert.match(e.hint ?? "", c.hint);
      assert.equal(e.exitCode, c.exitCode);
      if (c.code !== "ENOENT") assert.doesNotMatch(e.hint ?? "", /install OpenSSH/);
    });
  }
});
