import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "plist";
import { RdhpfError } from "../errors.ts";
import { managerCommands, planService, type ServicePlatform, serviceFilePath, serviceNameOfFile } from "./plan.ts";
import { type InstalledService, listServices, nameForInstall, selectServices, serviceNameFor } from "./services.ts";

const scratch = mkdtempSync(join(tmpdir(), "rdhpf-services-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let homes = 0;

const svc = (name: string | null, target: string): InstalledService => ({ name, target, filePath: `/x/${name ?? "plain"}` });

describe("serviceNameFor: a service name from a target", () => {
  const cases: [string, string][] = [
    ["ssh://docker@build-host.example", "build-host.example"],
    ["ssh://docker@build-host.example:2222", "build-host.example-2222"],
    ["dockerbox", "dockerbox"],
    ["ssh://[2001:db8::1]:22", "2001-db8-1-22"],
    ["ssh://u@h/path", "h"],
    ["ssh://@", "host"],
  ];
  for (const [target, want] of cases) it(`${target} → ${want}`, () => assert.equal(serviceNameFor(target), want));
});

describe("nameForInstall: one service per host, the first keeps the plain names", () => {
  it("the first host gets the plain service", () => assert.equal(nameForInstall("ssh://a", []), null));
  it("installing the same host again replaces its own service", () => {
    assert.equal(nameForInstall("ssh://a", [svc(null, "ssh://a")]), null);
    assert.equal(nameForInstall("ssh://b", [svc(null, "ssh://a"), svc("b", "ssh://b")]), "b");
  });
  it("a second host gets a service named after it", () => assert.equal(nameForInstall("ssh://docker@b.example", [svc(null, "ssh://a")]), "b.example"));
  it("a name taken by another target gets a short hash", () => {
    const name = nameForInstall("ssh://other@b.example", [svc(null, "ssh://a"), svc("b.example", "ssh://docker@b.example")]);
    assert.match(name ?? "", /^b\.example-[0-9a-f]{8}$/);
  });
  it("the plain names, freed by an uninstall, are taken again", () => assert.equal(nameForInstall("ssh://c", [svc("b", "ssh://b")]), null));
});

describe("selectServices: which services a command acts on", () => {
  const two = [svc(null, "ssh://a"), svc("b", "ssh://b")];
  it("the only one, without --host", () => assert.deepEqual(selectServices([svc(null, "ssh://a")], {}), [svc(null, "ssh://a")]));
  it("none installed: the plain location, for the command to say so", () => assert.deepEqual(selectServices([], {}), [{ name: null, target: null, filePath: null }]));
  it("--host by target or by name", () => {
    assert.deepEqual(selectServices(two, { host: "ssh://b" }), [two[1]]);
    assert.deepEqual(selectServices(two, { host: "b" }), [two[1]]);
  });
  it("--all: every one", () => assert.deepEqual(selectServices(two, { all: true }), two));
  it("several and no choice: a usage error listing them", () => {
    assert.throws(() => selectServices(two, {}), (e: RdhpfError) => e.exitCode === 2 && /2 rdhpf services/.test(e.message) && /--host ssh:\/\/b/.test(e.hint ?? ""));
  });
  it("an unknown --host: a usage error listing what is installed", () => {
    assert.throws(() => selectServices(two, { host: "ssh://z" }), (e: RdhpfError) => e.exitCode === 2 && /--host ssh:\/\/a/.test(e.hint ?? ""));
  });
});

for (const platform of ["darwin", "linux"] as const satisfies readonly ServicePlatform[]) {
  describe(`several hosts on one machine (${platform})`, () => {
    it("their service files coexist, each with its own label/unit, and are listed with their targets", () => {
      const home = join(scratch, `home-${homes++}`);
      const plans = [
        planService({ platform, name: null, home, uid: 501, binary: "/usr/local/bin/rdhpf", target: "ssh://docker@a.example", runArgs: [] }),
        planService({ platform, name: "b.example", home, uid: 501, binary: "/usr/local/bin/rdhpf", target: "ssh://docker@b.example", runArgs: [] }),
      ];
      for (const p of plans) {
        mkdirSync(join(p.filePath, ".."), { recursive: true });
        writeFileSync(p.filePath, p.content);
      }
      writeFileSync(join(plans[0]!.filePath, "..", platform === "darwin" ? "com.other.plist" : "other.service"), "not ours\n");
      assert.notEqual(plans[0]!.filePath, plans[1]!.filePath);
      assert.deepEqual(listServices(platform, home).map((s) => [s.name, s.target]), [[null, "ssh://docker@a.example"], ["b.example", "ssh://docker@b.example"]]);
      if (platform === "darwin") {
        assert.deepEqual(plans.map((p) => (parse(p.content) as { Label: string }).Label), ["com.rdhpf", "com.rdhpf.b.example"]);
        assert.deepEqual(managerCommands({ platform, name: "b.example", home, uid: 501 }).start.map((c) => c.argv), [["launchctl", "kickstart", "gui/501/com.rdhpf.b.example"]]);
      } else {
        assert.deepEqual(managerCommands({ platform, name: "b.example", home, uid: 501 }).start.map((c) => c.argv), [["systemctl", "--user", "restart", "rdhpf-b.example.service"]]);
      }
    });

    it("file names map back to service names, and other files are not ours", () => {
      const file = (name: string | null) => serviceFilePath(platform, "/h", name).split("/").at(-1)!;
      assert.equal(serviceNameOfFile(platform, file(null)), null);
      assert.equal(serviceNameOfFile(platform, file("b.example")), "b.example");
      assert.equal(serviceNameOfFile(platform, platform === "darwin" ? "com.apple.x.plist" : "ssh.service"), undefined);
    });
  });
}

describe("systemd-analyze verify accepts a named unit", { skip: spawnSync("systemd-analyze", ["--version"]).status === 0 ? false : "systemd-analyze not installed" }, () => {
  it("rdhpf-b.example.service", () => {
    const dir = join(scratch, `verify-${homes++}`);
    mkdirSync(dir);
    const binary = join(dir, "rdhpf");
    writeFileSync(binary, "#!/bin/sh\n", { mode: 0o755 });
    const p = planService({ platform: "linux", name: "b.example", home: dir, uid: 1000, binary, target: "ssh://docker@b.example", runArgs: [] });
    const file = join(dir, p.filePath.split("/").at(-1)!);
    writeFileSync(file, p.content);
    const r = spawnSync("systemd-analyze", ["verify", "--user", "--man=no", "--generators=no", file], { encoding: "utf8", env: { ...process.env, XDG_RUNTIME_DIR: dir, SYSTEMD_LOG_LEVEL: "warning" } });
    assert.equal(r.status, 0, r.stderr);
  });
});
