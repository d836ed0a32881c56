import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lintSshConfig, readUserSshConfig, SshConfigFindingSchema } from "./config_lint.ts";

function keys(config: string, host = "dockerbox", user?: string): Array<[string, string]> {
  return lintSshConfig(config, host, user).map((f) => [f.key, f.value]);
}

describe("lintSshConfig", () => {
  const cases: Array<[string, string, Array<[string, string]>]> = [
    ["a clean host", "Host dockerbox\n  HostName docker-host.example\n  User docker\n", []],
    ["ControlMaster auto with ControlPersist and a ControlPath", "Host dockerbox\n  ControlMaster auto\n  ControlPath ~/.ssh/cm-%C\n  ControlPersist 10m\n", [
      ["ControlMaster", "auto"],
      ["ControlPersist", "10m"],
      ["ControlPath", "~/.ssh/cm-%C"],
    ]],
    ["ControlMaster no", "Host dockerbox\n  ControlMaster no\n", []],
    ["ExitOnForwardFailure yes", "Host dockerbox\n  ExitOnForwardFailure yes\n", [["ExitOnForwardFailure", "yes"]]],
    ["ExitOnForwardFailure no", "Host dockerbox\n  ExitOnForwardFailure no\n", []],
    ["two LocalForwards, a RemoteForward and a DynamicForward", "Host dockerbox\n  LocalForward 5432 localhost:5432\n  LocalForward 127.0.0.1:8080 web:80\n  RemoteForward 9000 localhost:9000\n  DynamicForward 1080\n", [
      ["LocalForward", "5432 localhost:5432"],
      ["LocalForward", "127.0.0.1:8080 web:80"],
      ["DynamicForward", "1080"],
      ["RemoteForward", "9000 localhost:9000"],
    ]],
    ["ClearAllForwardings yes", "Host dockerbox\n  ClearAllForwardings yes\n", [["ClearAllForwardings", "yes"]]],
    ["StrictHostKeyChecking no", "Host dockerbox\n  StrictHostKeyChecking no\n", [["StrictHostKeyChecking", "no"]]],
    ["StrictHostKeyChecking off", "Host dockerbox\n  StrictHostKeyChecking off\n", [["StrictHostKeyChecking", "off"]]],
    ["StrictHostKeyChecking accept-new", "Host dockerbox\n  StrictHostKeyChecking accept-new\n", [["StrictHostKeyChecking", "accept-new"]]],
    ["ForwardAgent yes", "Host dockerbox\n  ForwardAgent yes\n", [["ForwardAgent", "yes"]]],
    ["ForkAfterAuthentication yes", "Host dockerbox\n  ForkAfterAuthentication yes\n", [["ForkAfterAuthentication", "yes"]]],
    ["settings from Host * apply too", "Host *\n  ForwardAgent yes\n", [["ForwardAgent", "yes"]]],
    ["another host's settings do not", "Host other\n  ForwardAgent yes\n  LocalForward 1 a:1\n", []],
    ["the first value wins, as in ssh", "Host dockerbox\n  StrictHostKeyChecking yes\nHost *\n  StrictHostKeyChecking no\n", []],
    ["directive names are case-insensitive", "Host dockerbox\n  stricthostkeychecking NO\n  FORWARDAGENT yes\n", [["StrictHostKeyChecking", "NO"], ["ForwardAgent", "yes"]]],
    ["Match host blocks count", "Match host dockerbox\n  ExitOnForwardFailure yes\n", [["ExitOnForwardFailure", "yes"]]],
    ["an empty config", "", []],
  ];
  for (const [what, config, want] of cases) {
    it(`${what}: ${want.length === 0 ? "no warning" : want.map(([k]) => k).join(", ")}`, () => {
      assert.deepEqual(keys(config), want);
    });
  }

  it("never runs a Match exec command", () => {
    const marker = join(tmpdir(), `rdhpf-lint-must-not-run-${process.pid}`);
    assert.deepEqual(keys(`Match exec "touch ${marker}"\n  ForwardAgent yes\n`), []);
    assert.equal(existsSync(marker), false);
  });

  it("evaluates Match user with the user from TARGET", () => {
    const config = "Match user deploy\n  ForwardAgent yes\n";
    assert.deepEqual(keys(config, "dockerbox", "deploy"), [["ForwardAgent", "yes"]]);
    assert.deepEqual(keys(config, "dockerbox", "someone-else"), []);
  });

  it("gives every finding a message naming the host and a hint", () => {
    const config = "Host dockerbox\n  ControlMaster auto\n  ControlPersist yes\n  ControlPath /tmp/x\n  ExitOnForwardFailure yes\n  LocalForward 5432 localhost:5432\n" +
      "  DynamicForward 1080\n  RemoteForward 9000 localhost:9000\n  ClearAllForwardings yes\n  StrictHostKeyChecking no\n  ForwardAgent yes\n  ForkAfterAuthentication yes\n";
    const findings = lintSshConfig(config, "dockerbox");
    assert.equal(findings.length, 11);
    for (const f of findings) {
      SshConfigFindingSchema.parse(f);
      assert.ok(f.message.includes("dockerbox"), f.message);
      assert.ok(f.hint.length > 10, f.key);
    }
  });

  it("names the local port a LocalForward takes", () => {
    const [f] = lintSshConfig("Host dockerbox\n  LocalForward 127.0.0.1:5432 db:5432\n", "dockerbox");
    assert.match(f!.message, /local port 5432/);
  });

  it("does not resolve host names (CanonicalizeHostName is ignored)", () => {
    const config = "CanonicalizeHostName yes\nCanonicalDomains rdhpf-lint.invalid\nHost dockerbox\n  ForwardAgent yes\n";
    assert.deepEqual(keys(config), [["ForwardAgent", "yes"]]);
  });
});

describe("readUserSshConfig", () => {
  const home = mkdtempSync(join(tmpdir(), "rdhpf-lint-test-"));
  after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, ".ssh", "config.d"), { recursive: true });

  it("is null when there is no config", () => {
    assert.equal(readUserSshConfig(undefined, join(home, "nobody")), null);
  });

  it("inlines Include files (relative to ~/.ssh, ~ and wildcards) in place", () => {
    writeFileSync(join(home, ".ssh", "config"), "Include config.d/*.conf\nInclude ~/.ssh/extra\nHost *\n  User fallback\n");
    writeFileSync(join(home, ".ssh", "config.d", "b.conf"), "Host dockerbox\n  ForwardAgent yes\n");
    writeFileSync(join(home, ".ssh", "config.d", "a.conf"), "Host dockerbox\n  ExitOnForwardFailure yes\n");
    writeFileSync(join(home, ".ssh", "config.d", "ignored.txt"), "Host dockerbox\n  ClearAllForwardings yes\n");
    writeFileSync(join(home, ".ssh", "extra"), "Host dockerbox\n  StrictHostKeyChecking no\n");
    const text = readUserSshConfig(undefined, home);
    assert.ok(text !== null);
    assert.deepEqual(keys(text), [["ExitOnForwardFailure", "yes"], ["StrictHostKeyChecking", "no"], ["ForwardAgent", "yes"]]);
  });

  it("reads the file given with -F", () => {
    const file = join(home, "custom_config");
    writeFileSync(file, "Host dockerbox\n  ForkAfterAuthentication yes\n");
    assert.deepEqual(keys(readUserSshConfig(file, home)!), [["ForkAfterAuthentication", "yes"]]);
  });

  it("stops at an Include loop", () => {
    const file = join(home, "loop_config");
    writeFileSync(file, `Include ${file}\nHost dockerbox\n  ForwardAgent yes\n`);
    assert.deepEqual(keys(readUserSshConfig(file, home)!), [["ForwardAgent", "yes"]]);
  });
});
