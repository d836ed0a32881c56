import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { onPath } from "./manager_commands.ts";
import { RESTART_DELAY_S, SERVICE_PATH, type ServiceSpec } from "./spec.ts";
import { isManagedUnit, systemdQuoteArg, systemdQuoteExecutable, systemdUnit } from "./systemd.ts";

const scratch = mkdtempSync(join(tmpdir(), "rdhpf-systemd-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** An executable at `dir`/rdhpf: `systemd-analyze verify` checks that ExecStart's program exists. */
function fakeBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "rdhpf");
  writeFileSync(path, "#!/bin/sh\nexit 0\n");
  chmodSync(path, 0o755);
  return path;
}

const binary = fakeBinary(join(scratch, "bin"));

function spec(over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    binary,
    target: "ssh://docker@docker-host.example",
    runArgs: ["--ssh-config", "/home/ci/.ssh/config", "--ssh-option", "IdentityFile=/home/ci/.ssh/id_ed25519"],
    home: "/home/ci",
    logDir: "/home/ci/Library/Logs/rdhpf",
    env: { PATH: SERVICE_PATH },
    ...over,
  };
}

let verifyRuns = 0;

/**
 * `systemd-analyze verify --user` on the unit, as rdhpf.service in a fresh
 * directory. Without a running systemd it needs --man=no --generators=no and
 * an XDG_RUNTIME_DIR for the user manager it simulates (measured: without
 * one it fails with "Failed to initialize manager: No such device or address").
 * Warnings come with exit status 0, so stderr must be empty as well.
 */
function verify(unit: string): { code: number | null; stderr: string } {
  const dir = join(scratch, `verify-${verifyRuns++}`);
  mkdirSync(join(dir, "runtime"), { recursive: true, mode: 0o700 });
  const file = join(dir, "rdhpf.service");
  writeFileSync(file, unit);
  const r = spawnSync("systemd-analyze", ["verify", "--user", "--man=no", "--generators=no", file], {
    encoding: "utf8",
    env: { ...process.env, XDG_RUNTIME_DIR: join(dir, "runtime"), SYSTEMD_LOG_COLOR: "0" },
  });
  return { code: r.status, stderr: r.stderr.trim() };
}

const onLinux = process.platform === "linux";
const haveAnalyze = onPath("systemd-analyze");

describe("systemdUnit, checked by systemd-analyze verify", { skip: onLinux ? false : "systemd exists only on Linux" }, () => {
  it("has systemd-analyze to check with (Debian package: systemd)", () => {
    assert.ok(haveAnalyze, "systemd-analyze is not on PATH: install the `systemd` package (apt-get install -y systemd); the unit tests below cannot validate the unit without it");
  });

  it("passes verify without a warning", { skip: !haveAnalyze && "no systemd-analyze (see above)" }, () => {
    assert.deepEqual(verify(systemdUnit(spec())), { code: 0, stderr: "" });
  });

  it("is really checked: a unit whose program is missing fails verify", { skip: !haveAnalyze && "no systemd-analyze (see above)" }, () => {
    const r = verify(systemdUnit(spec({ binary: join(scratch, "missing", "rdhpf") })));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not executable|No such file/);
  });

  it("finds a program whose path holds %, $, spaces, ; and * exactly", { skip: !haveAnalyze && "no systemd-analyze (see above)" }, () => {
    const odd = fakeBinary(join(scratch, "odd 100% $HOME;*", "zażółć"));
    assert.deepEqual(verify(systemdUnit(spec({ binary: odd }))), { code: 0, stderr: "" });
  });

  it("keeps a lone ; an argument instead of a command separator", { skip: !haveAnalyze && "no systemd-analyze (see above)" }, () => {
    // Unquoted, ";" would start a second command here, which verify rejects
    // for Type=exec ("more than one ExecStart= setting").
    assert.deepEqual(verify(systemdUnit(spec({ runArgs: [";", "/nonexistent"] }))), { code: 0, stderr: "" });
  });

  it("passes verify with hostile arguments and environment values", { skip: !haveAnalyze && "no systemd-analyze (see above)" }, () => {
    const hostile = ["a\"b", "c\\d", "%h %n %%", "$HOME ${X} $$", "new\nline", "tab\there", "'single'", "[Service]\nExecStart=/bin/evil"];
    const unit = systemdUnit(spec({ runArgs: hostile, env: { PATH: SERVICE_PATH, SSH_AUTH_SOCK: "/tmp/agent \"%i\" $X\nExecStartPre=/bin/evil" } }));
    assert.deepEqual(verify(unit), { code: 0, stderr: "" });
    assert.equal(unit.split("\n").filter((l) => l.startsWith("ExecStart")).length, 1);
    assert.ok(!unit.includes("\nExecStartPre"));
  });
});

describe("systemdUnit", () => {
  const unit = systemdUnit(spec({ env: { PATH: SERVICE_PATH, SSH_AUTH_SOCK: "/run/user/1000/ssh-agent.sock" } }));
  const lines = unit.split("\n");

  it("starts rdhpf run with the target and the user's options, each argument quoted", () => {
    assert.ok(lines.includes(
      `ExecStart="${binary}" "run" "--host" "ssh://docker@docker-host.example" "--ssh-config" "/home/ci/.ssh/config" "--ssh-option" "IdentityFile=/home/ci/.ssh/id_ed25519"`,
    ));
  });

  for (const line of [
    "[Unit]",
    "[Service]",
    "Type=exec",
    "Restart=on-failure",
    `RestartSec=${RESTART_DELAY_S}`,
    "KillMode=process",
    `Environment="PATH=${SERVICE_PATH}"`,
    `Environment="SSH_AUTH_SOCK=/run/user/1000/ssh-agent.sock"`,
    "[Install]",
    "WantedBy=default.target",
  ]) {
    it(`has ${line}`, () => assert.ok(lines.includes(line), unit));
  }

  it("lets the ssh master outlive rdhpf (no KillMode that ends the rest of the unit when rdhpf exits)", () => {
    assert.deepEqual(lines.filter((l) => l.startsWith("KillMode=")), ["KillMode=process"]);
  });

  it("does not wait for network-online.target, which user managers do not have", () => {
    assert.ok(!/^(After|Wants)=.*network-online/m.test(unit));
  });

  it("carries the marker that uninstall looks for", () => {
    assert.equal(isManagedUnit(unit), true);
    assert.equal(isManagedUnit("[Service]\nExecStart=/usr/local/bin/rdhpf run\n"), false);
  });

  it("refuses an executable path systemd would reject, with exit status 2", () => {
    for (const bad of [`/opt/a"b/rdhpf`, "/opt/a'b/rdhpf", "/opt/a\\b/rdhpf", "/opt/a\nb/rdhpf"]) {
      assert.throws(() => systemdUnit(spec({ binary: bad })), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2, bad);
    }
  });
});

describe("systemdQuoteArg", () => {
  const cases: Array<[string, string]> = [
    ["run", `"run"`],
    ["a b", `"a b"`],
    [`say "hi"`, `"say \\"hi\\""`],
    ["back\\slash", `"back\\\\slash"`],
    ["100%", `"100%%"`],
    ["$HOME", `"$$HOME"`],
    ["a\nb", `"a\\nb"`],
    ["", `""`],
  ];
  for (const [arg, want] of cases) it(`quotes ${JSON.stringify(arg)} as ${want}`, () => assert.equal(systemdQuoteArg(arg), want));
});

describe("systemdQuoteExecutable", () => {
  it("escapes % but leaves $ alone (systemd substitutes variables only in arguments)", () => {
    assert.equal(systemdQuoteExecutable("/opt/100% $x/rdhpf"), `"/opt/100%% $x/rdhpf"`);
  });
});
