import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { shellLine } from "../shell_words.ts";
import { installService, serviceStatus, uninstallService } from "./install.ts";
import type { CommandResult } from "./manager_commands.ts";
import { planService, type ServicePlatform, serviceFilePath } from "./plan.ts";

const scratch = mkdtempSync(join(tmpdir(), "rdhpf-install-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let homes = 0;

function freshHome(): string {
  const home = join(scratch, `home-${homes++}`);
  mkdirSync(home);
  return home;
}

function plan(platform: ServicePlatform, home: string, runArgs: string[] = ["--log-level", "info"]) {
  return planService({ platform, home, uid: 501, binary: "/usr/local/bin/rdhpf", target: "ssh://docker@docker-host.example", runArgs });
}

function printer() {
  const lines: string[] = [];
  return { lines, print: (l: string) => void lines.push(l), text: () => lines.join("\n") };
}

/** A service manager that records calls and answers from a script. */
function fakeRunner(answers: Record<string, number[]> = {}) {
  const calls: string[] = [];
  const run = async (argv: string[]): Promise<CommandResult> => {
    const line = argv.join(" ");
    calls.push(line);
    const key = Object.keys(answers).find((k) => line.startsWith(k));
    const code = key ? (answers[key]?.shift() ?? 0) : 0;
    return { argv, code, stdout: "", stderr: code === 0 ? "" : "Boot-out failed: 3: No such process" };
  };
  return { calls, run };
}

const quiet = { print: () => {} };

for (const platform of ["darwin", "linux"] as const) {
  describe(`installService --platform ${platform}`, () => {
    it("--dry-run prints the file and the commands and writes nothing", async () => {
      const home = freshHome();
      const out = printer();
      const p = plan(platform, home);
      const r = await installService(p, { dryRun: true, execute: false, print: out.print });
      assert.equal(r.replaced, false);
      assert.deepEqual(readdirSync(home), []);
      assert.ok(out.text().includes(p.content.trimEnd()));
      assert.ok(out.text().includes(shellLine(p.install.at(-1)!.argv)));
    });

    it("writes the file (0644, directories created) and prints the commands without running them", async () => {
      const home = freshHome();
      const out = printer();
      const p = plan(platform, home);
      const r = await installService(p, { dryRun: false, execute: false, print: out.print });
      assert.equal(readFileSync(p.filePath, "utf8"), p.content);
      assert.equal(statSync(p.filePath).mode & 0o777, 0o644);
      assert.deepEqual(r.commands, []);
      assert.match(out.text(), platform === "darwin" ? /launchctl bootstrap gui\/501 / : /systemctl --user restart rdhpf\.service/);
      if (p.logDir) assert.ok(statSync(p.logDir).isDirectory());
      assert.deepEqual(readdirSync(dirname(p.filePath)), [platform === "darwin" ? "com.rdhpf.plist" : "rdhpf.service"], "no temp file left");
    });

    it("replaces its own earlier file with the new content", async () => {
      const home = freshHome();
      await installService(plan(platform, home, ["--log-level", "info"]), { dryRun: false, execute: false, ...quiet });
      const second = plan(platform, home, ["--log-level", "debug"]);
      const r = await installService(second, { dryRun: false, execute: false, ...quiet });
      assert.equal(r.replaced, true);
      assert.equal(readFileSync(second.filePath, "utf8"), second.content);
      assert.ok(second.content.includes("debug"));
    });

    it("refuses to replace a file it did not write (exit 2), and --force keeps it as .before-rdhpf", async () => {
      const home = freshHome();
      const p = plan(platform, home);
      mkdirSync(dirname(p.filePath), { recursive: true });
      writeFileSync(p.filePath, "hand-written\n");
      await assert.rejects(installService(p, { dryRun: false, execute: false, ...quiet }), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.hint!.includes("--force"));
      assert.equal(readFileSync(p.filePath, "utf8"), "hand-written\n");
      const r = await installService(p, { dryRun: false, execute: false, force: true, ...quiet });
      assert.equal(r.backupPath, `${p.filePath}.before-rdhpf`);
      assert.equal(readFileSync(`${p.filePath}.before-rdhpf`, "utf8"), "hand-written\n");
      assert.equal(readFileSync(p.filePath, "utf8"), p.content);
    });

    it("uninstall removes its own file and nothing else", async () => {
      const home = freshHome();
      const p = plan(platform, home);
      await installService(p, { dryRun: false, execute: false, ...quiet });
      writeFileSync(join(dirname(p.filePath), "other.conf"), "keep me\n");
      const r = await uninstallService({ platform, home, uid: 501 }, { dryRun: false, execute: false, ...quiet });
      assert.equal(r.removed, true);
      assert.deepEqual(readdirSync(dirname(p.filePath)), ["other.conf"]);
    });

    it("uninstall --dry-run changes nothing", async () => {
      const home = freshHome();
      const p = plan(platform, home);
      await installService(p, { dryRun: false, execute: false, ...quiet });
      const r = await uninstallService({ platform, home, uid: 501 }, { dryRun: true, execute: false, ...quiet });
      assert.equal(r.removed, false);
      assert.equal(readFileSync(p.filePath, "utf8"), p.content);
    });

    it("uninstall refuses to delete a file it did not write (exit 2)", async () => {
      const home = freshHome();
      const file = serviceFilePath(platform, home);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, "hand-written\n");
      await assert.rejects(
        uninstallService({ platform, home, uid: 501 }, { dryRun: false, execute: false, ...quiet }),
        (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes("not written by rdhpf"),
      );
      assert.equal(readFileSync(file, "utf8"), "hand-written\n");
    });

    it("uninstall with nothing installed says so and succeeds", async () => {
      const out = printer();
      const r = await uninstallService({ platform, home: freshHome(), uid: 501 }, { dryRun: false, execute: false, print: out.print });
      assert.equal(r.removed, false);
      assert.match(out.text(), /nothing to remove/);
    });

    it("status tells installed and ours apart from foreign and missing", async () => {
      const home = freshHome();
      assert.deepEqual(
        await serviceStatus({ platform, home, uid: 501 }, { execute: false }),
        { platform, name: null, target: null, filePath: serviceFilePath(platform, home), installed: false, managed: false, state: null, pid: null, managerOutput: null },
      );
      await installService(plan(platform, home), { dryRun: false, execute: false, ...quiet });
      const ours = await serviceStatus({ platform, home, uid: 501 }, { execute: false });
      assert.equal(ours.installed && ours.managed, true);
      assert.equal(ours.target, "ssh://docker@docker-host.example");
      writeFileSync(serviceFilePath(platform, home), "hand-written\n");
      const foreign = await serviceStatus({ platform, home, uid: 501 }, { execute: false });
      assert.deepEqual([foreign.installed, foreign.managed], [true, false]);
    });
  });
}

describe("running the service manager commands", () => {
  it("launchd: a failing bootout (not loaded) is fine, bootstrap is retried after a race", async () => {
    const home = freshHome();
    const fake = fakeRunner({ "launchctl bootout": [3], "launchctl bootstrap": [5, 0] });
    const r = await installService(plan("darwin", home), { dryRun: false, execute: true, run: fake.run, retryDelayMs: 0, ...quiet });
    assert.deepEqual(fake.calls, [
      "launchctl bootout gui/501/com.rdhpf",
      "launchctl enable gui/501/com.rdhpf",
      `launchctl bootstrap gui/501 ${home}/Library/LaunchAgents/com.rdhpf.plist`,
      `launchctl bootstrap gui/501 ${home}/Library/LaunchAgents/com.rdhpf.plist`,
    ]);
    assert.deepEqual(r.commands.map((c) => c.code), [3, 0, 0]);
  });

  it("systemd: a failing command is an error (exit 1) that says the file is in place", async () => {
    const home = freshHome();
    const fake = fakeRunner({ "systemctl --user daemon-reload": [1] });
    await assert.rejects(
      installService(plan("linux", home), { dryRun: false, execute: true, run: fake.run, retryDelayMs: 0, ...quiet }),
      (e: unknown) => e instanceof RdhpfError && e.exitCode === 1 && e.message.includes("daemon-reload") && e.hint!.includes("file is in place"),
    );
    assert.equal(fake.calls.length, 1);
    assert.ok(statSync(serviceFilePath("linux", home)).isFile());
  });

  it("systemd uninstall: stop and disable, remove, reload", async () => {
    const home = freshHome();
    await installService(plan("linux", home), { dryRun: false, execute: false, ...quiet });
    const fake = fakeRunner();
    const r = await uninstallService({ platform: "linux", home, uid: 1000 }, { dryRun: false, execute: true, run: fake.run, ...quiet });
    assert.equal(r.removed, true);
    assert.deepEqual(fake.calls, ["systemctl --user disable --now rdhpf.service", "systemctl --user daemon-reload"]);
  });

  it("status reads launchctl print: state and pid", async () => {
    const home = freshHome();
    const run = async (argv: string[]): Promise<CommandResult> => ({ argv, code: 0, stdout: "gui/501/com.rdhpf = {\n\tstate = running\n\tpid = 4242\n}\n", stderr: "" });
    const s = await serviceStatus({ platform: "darwin", home, uid: 501 }, { execute: true, run });
    assert.deepEqual([s.state, s.pid], ["running", 4242]);
  });

  it("status reads systemctl is-active", async () => {
    const run = async (argv: string[]): Promise<CommandResult> => ({ argv, code: 3, stdout: "inactive\n", stderr: "" });
    const s = await serviceStatus({ platform: "linux", home: freshHome(), uid: 1000 }, { execute: true, run });
    assert.equal(s.state, "inactive");
  });
});
