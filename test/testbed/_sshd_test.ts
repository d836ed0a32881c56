import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { clientConfigText, knownHostsLine, privateRunArgv, sshdConfigText, sshPaths } from "./_sshd.ts";

const p = sshPaths("/tmp/rdhpf-abc123");
const settings = { listenAddress: "10.200.37.2", port: 22, dockerSocket: "/tmp/rdhpf-abc123/docker.sock", extraConfig: [], usePam: false, forceCommand: null };

describe("sshdConfigText", () => {
  it("points remote docker commands at the test bed's daemon", () => {
    assert.match(sshdConfigText(p, settings), /^SetEnv DOCKER_HOST=unix:\/\/\/tmp\/rdhpf-abc123\/docker\.sock HOME=\/tmp\/rdhpf-abc123\/home$/m);
  });
  it("merges the caller's SetEnv into the one line sshd reads, the caller's value winning", () => {
    const text = sshdConfigText(p, { ...settings, extraConfig: ["SetEnv DOCKER_HOST=unix:///other.sock FOO=1"] });
    const setEnv = text.split("\n").filter((l) => l.startsWith("SetEnv"));
    assert.deepEqual(setEnv, ["SetEnv DOCKER_HOST=unix:///other.sock FOO=1 HOME=/tmp/rdhpf-abc123/home"]);
  });
  it("runs every session through the heavy shell script when given one", () => {
    assert.doesNotMatch(sshdConfigText(p, settings), /ForceCommand/);
    assert.match(sshdConfigText(p, { ...settings, forceCommand: p.heavyShellScript }), /^ForceCommand \/tmp\/rdhpf-abc123\/heavy_shell\.sh$/m);
  });
  it("puts extra lines first, since sshd keeps the first value of a keyword", () => {
    const text = sshdConfigText(p, { ...settings, extraConfig: ["AllowStreamLocalForwarding no"] });
    assert.ok(text.indexOf("AllowStreamLocalForwarding no") < text.indexOf("AllowStreamLocalForwarding yes"));
  });
  it("keeps a Match block of the extra lines at the end", () => {
    const text = sshdConfigText(p, { ...settings, extraConfig: ["MaxSessions 2", "Match User root", "  AllowTcpForwarding no"] });
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[0], "MaxSessions 2");
    assert.deepEqual(lines.slice(-2), ["Match User root", "  AllowTcpForwarding no"]);
  });
  it("listens only on the namespace address with the generated host key", () => {
    const text = sshdConfigText(p, settings);
    assert.match(text, /^ListenAddress 10\.200\.37\.2$/m);
    assert.match(text, /^HostKey \/tmp\/rdhpf-abc123\/ssh_host_ed25519_key$/m);
    assert.match(text, /^PasswordAuthentication no$/m);
  });
});

describe("knownHostsLine", () => {
  const cases: Array<[number, string]> = [
    [22, "10.200.37.2 ssh-ed25519 AAAAkey\n"],
    [2222, "[10.200.37.2]:2222 ssh-ed25519 AAAAkey\n"],
  ];
  for (const [port, want] of cases) {
    it(`writes the host as ssh looks it up on port ${port}`, () => {
      assert.equal(knownHostsLine("10.200.37.2", port, "ssh-ed25519 AAAAkey rdhpf-abc123-host\n"), want);
    });
  }
});

describe("clientConfigText", () => {
  it("never lets ssh prompt or accept an unknown host key", () => {
    const text = clientConfigText(p, "rdhpf-abc123", "10.200.37.2", 22);
    for (const line of ["Host rdhpf-abc123", "  StrictHostKeyChecking yes", "  BatchMode yes", "  IdentitiesOnly yes", "  UserKnownHostsFile /tmp/rdhpf-abc123/known_hosts"]) {
      assert.ok(text.split("\n").includes(line), `missing ${JSON.stringify(line)}`);
    }
  });
});

describe("privateRunArgv", () => {
  const argv = privateRunArgv("/tmp/rdhpf-abc123/run", "/tmp/rdhpf-", ["/usr/sbin/sshd", "-D"]);
  const script = argv[argv.indexOf("-c") + 1]!;
  it("runs sshd in its own mount namespace, exec'd in place with its argv unchanged", () => {
    assert.deepEqual(argv.slice(0, 4), ["unshare", "--mount", "--propagation", "private"]);
    assert.deepEqual(argv.slice(-4), ["/tmp/rdhpf-abc123/run", "/tmp/rdhpf-", "/usr/sbin/sshd", "-D"]);
    assert.match(script, /exec "\$@"$/);
  });
  it("drops the copies of network namespaces and test bed mounts before it replaces /run", () => {
    assert.ok(script.indexOf("umount -l") < script.indexOf("mount --bind"), script);
    assert.match(script, /\/run\/netns\/\*/);
  });
});
