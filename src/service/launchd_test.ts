import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { parse } from "plist";
import { RdhpfError } from "../errors.ts";
import { isManagedPlist, LAUNCHD_LABEL, LAUNCHD_THROTTLE_S, launchdPlist, xmlEscape } from "./launchd.ts";
import { SERVICE_PATH, type ServiceSpec } from "./spec.ts";

const base: ServiceSpec = {
  binary: "/usr/local/bin/rdhpf",
  target: "ssh://docker@docker-host.example",
  runArgs: ["--ssh-config", "/Users/ci/.ssh/config", "--ssh-option", "IdentityFile=/Users/ci/.ssh/id_ed25519", "--log-file", "/Users/ci/Library/Logs/rdhpf/rdhpf.log"],
  home: "/Users/ci",
  logDir: "/Users/ci/Library/Logs/rdhpf",
  env: { PATH: SERVICE_PATH },
};

type Dict = Record<string, unknown>;

function parsed(spec: ServiceSpec): Dict {
  return parse(launchdPlist(spec)) as Dict;
}

// Python's plistlib (expat underneath) is a second, strict opinion on the XML.
function pythonPlist(xml: string): unknown | null {
  try {
    execFileSync("python3", ["-c", "pass"], { stdio: "ignore" });
  } catch {
    return null;
  }
  const out = execFileSync("python3", ["-c", "import json,plistlib,sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))"], { input: xml, encoding: "utf8" });
  return JSON.parse(out);
}

describe("launchdPlist", () => {
  it("is a property list with exactly the keys launchd needs", () => {
    const p = parsed(base);
    assert.deepEqual(Object.keys(p).sort(), [
      "AbandonProcessGroup", "EnvironmentVariables", "KeepAlive", "Label", "ProcessType", "ProgramArguments", "RunAtLoad", "StandardErrorPath", "StandardOutPath", "ThrottleInterval",
    ]);
    assert.equal(p.Label, LAUNCHD_LABEL);
    assert.equal(p.Label, "com.rdhpf");
    assert.deepEqual(p.ProgramArguments, [
      "/usr/local/bin/rdhpf", "run", "--host", "ssh://docker@docker-host.example",
      "--ssh-config", "/Users/ci/.ssh/config", "--ssh-option", "IdentityFile=/Users/ci/.ssh/id_ed25519", "--log-file", "/Users/ci/Library/Logs/rdhpf/rdhpf.log",
    ]);
    assert.equal(p.RunAtLoad, true);
    assert.deepEqual(p.KeepAlive, { SuccessfulExit: false });
    assert.equal(p.ThrottleInterval, LAUNCHD_THROTTLE_S);
    assert.equal(p.ProcessType, "Standard");
    // The ssh master is in rdhpf's process group and must outlive it after a hand-over.
    assert.equal(p.AbandonProcessGroup, true);
    assert.deepEqual(p.EnvironmentVariables, { PATH: "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/opt/homebrew/bin" });
    assert.equal(p.StandardOutPath, "/Users/ci/Library/Logs/rdhpf/stdout.log");
    assert.equal(p.StandardErrorPath, "/Users/ci/Library/Logs/rdhpf/stderr.log");
  });

  it("passes SSH_AUTH_SOCK when the user gives one", () => {
    const p = parsed({ ...base, env: { PATH: SERVICE_PATH, SSH_AUTH_SOCK: "/Users/ci/.ssh/agent.sock" } });
    assert.deepEqual(p.EnvironmentVariables, { PATH: SERVICE_PATH, SSH_AUTH_SOCK: "/Users/ci/.ssh/agent.sock" });
  });

  it("carries the marker that uninstall looks for", () => {
    assert.equal(isManagedPlist(launchdPlist(base)), true);
    assert.equal(isManagedPlist(`<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>com.rdhpf</string></dict></plist>`), false);
  });

  const hostile = [
    "</string><key>Label</key><string>evil",
    "a & b; c <d> e",
    "line1\nline2",
    "cr\r\nlf",
    "tab\there",
    "]]> <!-- --> <?pi?> &amp; &#13;",
    "quotes \" and ' and $HOME and %n and \\",
    "unicode: zażółć 日本 🐳",
  ];
  for (const text of hostile) {
    it(`round-trips ${JSON.stringify(text)} exactly, in arguments, environment and paths`, () => {
      const spec = { ...base, binary: `/opt/${text}/rdhpf`, runArgs: ["--ssh-option", text], logDir: `/Users/ci/${text}`, env: { PATH: SERVICE_PATH, SSH_AUTH_SOCK: text } };
      const xml = launchdPlist(spec);
      const p = parse(xml) as Dict;
      assert.equal(p.Label, "com.rdhpf");
      assert.deepEqual(p.ProgramArguments, [`/opt/${text}/rdhpf`, "run", "--host", base.target, "--ssh-option", text]);
      assert.deepEqual(p.EnvironmentVariables, { PATH: SERVICE_PATH, SSH_AUTH_SOCK: text });
      assert.equal(p.StandardErrorPath, `/Users/ci/${text}/stderr.log`);
      const py = pythonPlist(xml);
      if (py !== null) assert.deepEqual(py, p);
    });
  }

  for (const [what, spec] of [
    ["a NUL byte", { ...base, runArgs: ["a\u0000b"] }],
    ["an escape character", { ...base, target: "host\u001b[2J" }],
    ["a relative binary", { ...base, binary: "rdhpf" }],
    ["a bad environment name", { ...base, env: { "A=B": "x" } }],
  ] as const) {
    it(`refuses ${what} with exit status 2`, () => {
      assert.throws(() => launchdPlist(spec as ServiceSpec), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2);
    });
  }
});

describe("xmlEscape", () => {
  const cases: Array<[string, string]> = [
    ["plain", "plain"],
    ["a&b", "a&amp;b"],
    ["<x>", "&lt;x&gt;"],
    ["a\rb", "a&#13;b"],
    ["a\nb", "a\nb"],
  ];
  for (const [input, want] of cases) it(`escapes ${JSON.stringify(input)}`, () => assert.equal(xmlEscape(input), want));
});
