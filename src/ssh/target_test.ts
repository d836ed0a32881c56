import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RdhpfError } from "../errors.ts";
import { defaultTargetFromEnv, destination, parseTarget, validateSshOption } from "./target.ts";

function usageFailure(fn: () => unknown): RdhpfError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RdhpfError, `expected RdhpfError, got ${err}`);
    assert.equal(err.exitCode, 2);
    return err;
  }
  assert.fail("expected a usage error");
}

describe("parseTarget", () => {
  const good: Array<[string, { user: string | null; host: string; port: number | null }, string]> = [
    ["ssh://host", { user: null, host: "host", port: null }, "host"],
    ["ssh://root@10.200.0.2", { user: "root", host: "10.200.0.2", port: null }, "root@10.200.0.2"],
    ["ssh://deploy@docker.example.com:2222", { user: "deploy", host: "docker.example.com", port: 2222 }, "deploy@docker.example.com"],
    ["ssh://root@[fd00::1]:2222", { user: "root", host: "fd00::1", port: 2222 }, "root@fd00::1"],
    ["ssh://[::1]", { user: null, host: "::1", port: null }, "::1"],
    ["SSH://Host_1", { user: null, host: "Host_1", port: null }, "Host_1"],
    ["ssh://h:65535", { user: null, host: "h", port: 65535 }, "h"],
    ["ssh://h:1", { user: null, host: "h", port: 1 }, "h"],
    ["buildhost", { user: null, host: "buildhost", port: null }, "buildhost"],
    ["ci@docker-remote", { user: "ci", host: "docker-remote", port: null }, "ci@docker-remote"],
    ["first.last@my_alias.lan", { user: "first.last", host: "my_alias.lan", port: null }, "first.last@my_alias.lan"],
    ["root@fd00::2", { user: "root", host: "fd00::2", port: null }, "root@fd00::2"],
  ];
  for (const [raw, expected, dest] of good) {
    it(`accepts ${raw}`, () => {
      const t = parseTarget(raw);
      assert.deepEqual(t, { raw, ...expected });
      assert.equal(destination(t), dest);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ["", /is empty/],
    ["-oProxyCommand=touch /tmp/pwned", /starts with "-"/],
    ["-oProxyCommand=x", /starts with "-"/],
    ["ssh://-oProxyCommand=x", /host "-oProxyCommand=x" starts with "-"/],
    ["ssh://-x@host", /user "-x" starts with "-"/],
    ["root@-x", /host "-x" starts with "-"/],
    ["-x@host", /starts with "-"/],
    ["ssh://a b", /whitespace/],
    ["a b", /whitespace/],
    ["host\n-oProxyCommand=x", /control characters or a line break/],
    ["ssh://host\r", /control characters/],
    ["host\t", /control characters/],
    ["ho\u001b[31mst", /control characters/],
    ["ssh://h:0", /port 0 is out of range/],
    ["ssh://h:65536", /port 65536 is out of range/],
    ["ssh://h:99999", /out of range/],
    ["ssh://h:22x", /port "22x" is not a number/],
    ["ssh://h:", /port "" is not a number/],
    ["ssh://h:-22", /not a number/],
    ["tcp://10.0.0.1:2375", /tcp:\/\/ is not supported/],
    ["unix:///var/run/docker.sock", /unix:\/\/ is not supported/],
    ["http://host", /http:\/\/ is not supported/],
    ["ssh://host/path", /no path, query or fragment/],
    ["ssh://host/", /no path/],
    ["ssh://host?x=1", /no path, query/],
    ["ssh://host#frag", /fragment/],
    ["ssh://user:secret@host", /password/],
    ["ssh://a@b@c", /more than one "@"/],
    ["ssh://@host", /user before "@" is empty/],
    ["ssh://", /host is empty/],
    ["ssh://fd00::1", /IPv6 address must be written in brackets/],
    ["ssh://[fd00::1", /not closed/],
    ["ssh://[notv6]:22", /not an IPv6 address/],
    ["ssh://[::1]x", /unexpected "x"/],
    ["host:2222", /port needs the ssh:\/\/ form/],
    ["[::1]", /brackets belong to the ssh:\/\/ form/],
    ["ho;st", /characters other than/],
    ["$(id)@host", /characters other than/],
    ["host`id`", /characters other than/],
    ["h\u00e9st", /characters other than/],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw)} with exit code 2`, () => {
      const err = usageFailure(() => parseTarget(raw));
      assert.match(err.message, message);
      assert.ok(err.hint, "a hint names the right form");
    });
  }

  it("names the bad input escaped, never with a raw line break", () => {
    const err = usageFailure(() => parseTarget("evil\nline"));
    assert.match(err.message, /"evil\\nline"/);
    assert.doesNotMatch(err.message, /\n/);
  });

  it("explains why another scheme does not work", () => {
    const err = usageFailure(() => parseTarget("tcp://docker:2376"));
    assert.match(err.hint!, /one SSH connection/);
    assert.match(err.hint!, /ssh:\/\//);
  });
});

describe("defaultTargetFromEnv", () => {
  const cases: Array<[Record<string, string | undefined>, ReturnType<typeof defaultTargetFromEnv>]> = [
    [{}, null],
    [{ RDHPF_HOST: "ssh://a" }, { raw: "ssh://a", source: "RDHPF_HOST" }],
    [{ RDHPF_HOST: "alias", DOCKER_HOST: "ssh://b" }, { raw: "alias", source: "RDHPF_HOST" }],
    [{ RDHPF_HOST: "", DOCKER_HOST: "ssh://b" }, { raw: "ssh://b", source: "DOCKER_HOST" }],
    [{ DOCKER_HOST: "ssh://root@10.0.0.1" }, { raw: "ssh://root@10.0.0.1", source: "DOCKER_HOST" }],
    [{ DOCKER_HOST: "tcp://10.0.0.1:2375" }, null],
    [{ DOCKER_HOST: "unix:///var/run/docker.sock" }, null],
  ];
  for (const [env, expected] of cases) {
    it(`picks ${JSON.stringify(expected)} from ${JSON.stringify(env)}`, () => {
      assert.deepEqual(defaultTargetFromEnv(env), expected);
    });
  }
});

describe("validateSshOption", () => {
  for (const ok of ["ServerAliveInterval=30", "User=deploy", "ProxyJump=bastion", "ProxyCommand=ssh -W %h:%p bastion", "StrictHostKeyChecking=yes", "IdentityFile=~/.ssh/id_ed25519"]) {
    it(`accepts ${ok}`, () => assert.equal(validateSshOption(ok), ok));
  }
  const bad: Array<[string, RegExp, RegExp | null]> = [
    ["ServerAliveInterval", /no "="/, /Key=Value/],
    ["=30", /not an ssh option name/, null],
    ["Server Alive=1", /not an ssh option name/, null],
    ["-oProxyCommand=x", /not an ssh option name/, null],
    ["User=", /value is empty/, null],
    ["User=-oProxyCommand=x", /value starts with "-"/, null],
    ["ProxyCommand=touch /tmp/x\nHost *", /control characters or a line break/, null],
    ["ControlMaster=no", /ControlMaster cannot be set/, /own ControlMaster/],
    ["controlpath=/tmp/x", /cannot be set/, /runtime dir/],
    ["ControlPersist=yes", /cannot be set/, /child/],
    ["BatchMode=no", /cannot be set/, /never prompts/],
    ["LogLevel=DEBUG3", /cannot be set/, /--log-level/],
    ["ExitOnForwardFailure=yes", /cannot be set/, /busy local port/],
    ["LocalForward=8080 localhost:80", /cannot be set/, /manages the forwards/],
    ["RemoteCommand=bash", /cannot be set/, /own commands/],
    ["StrictHostKeyChecking=no", /never turns host key checking off/, /known_hosts/],
    ["StrictHostKeyChecking=accept-new", /never turns host key checking off/, null],
    ["stricthostkeychecking=off", /never turns host key checking off/, null],
  ];
  for (const [kv, message, hint] of bad) {
    it(`refuses ${JSON.stringify(kv)}`, () => {
      const err = usageFailure(() => validateSshOption(kv));
      assert.match(err.message, message);
      if (hint) assert.match(err.hint ?? "", hint);
    });
  }
});
