/**
 * The upgrade/rollback flow against a simulated machine: real files in a
 * scratch directory (service file, installed binary, backup), and a
 * simulated service manager and daemon behind the command runner. The
 * end-to-end test (test/e2e/service_upgrade_test.ts) runs the real binaries.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import type { CommandResult } from "./manager_commands.ts";
import { planService } from "./plan.ts";
import { rollbackService, type UpgradeDeps, upgradeService } from "./upgrade.ts";

const scratch = mkdtempSync(join(tmpdir(), "rdhpf-upgrade-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;

/** A file that starts like an x86-64 ELF and names the version it "prints". */
function fakeBinary(path: string, version: string, machine = 0x3e): void {
  const header = new Uint8Array(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  new DataView(header.buffer).setUint16(18, machine, true);
  writeFileSync(path, Buffer.concat([header, Buffer.from(`\nVERSION=${version}\n`)]), { mode: 0o755 });
}
const versionIn = (path: string) => /VERSION=(\S+)/.exec(readFileSync(path, "latin1"))?.[1] ?? null;

interface Daemon { pid: number; version: string; commit?: string; state: string; forwards: { container_id: string; local_port: number; state: string }[]; exited: boolean }

/**
 * One machine: an installed service running `version` with two active
 * forwards. `newDaemon` decides what a daemon started by the manager looks
 * like (by default: the installed file's version, connected, adopting the
 * forwards of the one before).
 */
function machine(opts: { installed?: string; newDaemon?: (version: string, before: Daemon | null) => Partial<Daemon>; ignoreUsr2?: boolean } = {}) {
  const home = join(scratch, `home-${n++}`);
  const bin = join(home, "bin");
  mkdirSync(bin, { recursive: true });
  const installed = join(bin, "rdhpf");
  fakeBinary(installed, opts.installed ?? "0.1.0");
  const plan = planService({ platform: "linux", home, uid: 1000, binary: installed, target: "dockerbox", runArgs: ["-F", "/home/u/.ssh/config", "--log-level", "info"] });
  mkdirSync(join(home, ".config", "systemd", "user"), { recursive: true });
  writeFileSync(plan.filePath, plan.content);
  const forwards = [{ container_id: "aaaaaaaaaaaa1111", local_port: 5432, state: "active" }, { container_id: "bbbbbbbbbbbb2222", local_port: 8080, state: "active" }];
  let daemon: Daemon | null = { pid: 1000, version: opts.installed ?? "0.1.0", state: "connected", forwards, exited: false };
  const calls: string[] = [];
  const lines: string[] = [];
  const signals: string[] = [];
  const run = async (argv: string[]): Promise<CommandResult> => {
    calls.push(argv.join(" "));
    const ok = (stdout: string): CommandResult => ({ argv, code: 0, stdout, stderr: "" });
    if (argv[1] === "--version") {
      const v = versionIn(argv[0] as string);
      return v ? ok(`rdhpf ${v} (commit test, linux-x64)\n`) : { argv, code: 126, stdout: "", stderr: "cannot execute" };
    }
    if (argv[1] === "status") {
      const live = daemon !== null && !daemon.exited;
      return { argv, code: live ? 0 : 1, stdout: JSON.stringify({ host: "dockerbox", commit: "test", ...(daemon ?? { pid: 0, version: "?", state: "stopping", forwards: [] }), live }), stderr: "" };
    }
    if (argv[0] === "systemctl" && argv[2] === "restart") {
      if (daemon === null || daemon.exited) {
        const version = versionIn(installed) as string;
        const before = daemon;
        daemon = { pid: (before?.pid ?? 1000) + 1, version, state: "connected", forwards: before?.forwards ?? [], exited: false, ...opts.newDaemon?.(version, before) };
      }
      return ok("");
    }
    throw new Error(`unexpected command ${argv.join(" ")}`);
  };
  const deps: UpgradeDeps = {
    run,
    print: (l) => void lines.push(l),
    signal: (pid, sig) => {
      signals.push(`${sig} ${pid}`);
      if (daemon?.pid === pid && sig === "SIGUSR2" && !opts.ignoreUsr2) daemon.exited = true;
    },
    waitForExit: async (pid) => daemon?.pid !== pid || daemon.exited,
    machine: { os: "linux", arch: "x64" },
  };
  const newBinary = join(home, "rdhpf-linux-x64");
  fakeBinary(newBinary, "0.2.0");
  return { home, installed, backup: `${installed}.backup`, newBinary, deps, calls, lines, signals, daemon: () => daemon, loc: { platform: "linux" as const, home, uid: 1000 } };
}

const quick = { dryRun: false, timeoutMs: 1500 };

describe("rdhpf service upgrade", () => {
  it("backs up, replaces, hands over with SIGUSR2 (never SIGTERM), starts, and verifies the new version with the same forwards", async () => {
    const m = machine();
    await upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps);
    assert.equal(versionIn(m.installed), "0.2.0");
    assert.equal(versionIn(m.backup), "0.1.0");
    assert.deepEqual(m.signals, ["SIGUSR2 1000"]);
    assert.equal(m.daemon()?.version, "0.2.0");
    assert.ok(m.calls.includes("systemctl --user restart rdhpf.service"));
    // The service's own -F selects the instance when asking for its status.
    assert.ok(m.calls.some((c) => c.startsWith(`${m.installed} status --host dockerbox -F /home/u/.ssh/config --format json`)), m.calls.join("\n"));
    assert.match(m.lines.join("\n"), /verify: pid 1001 answers as 0\.2\.0 \(commit test\), connected, 2 active forwards \(2 before, none lost\)/);
  });

  it("refuses a binary for another platform before changing anything", async () => {
    const m = machine();
    fakeBinary(m.newBinary, "0.2.0", 0xb7);
    await assert.rejects(upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps), (e: RdhpfError) => /^check: .* a linux-arm64 binary; this machine is linux-x64/.test(e.message) && e.exitCode === 1);
    assert.equal(versionIn(m.installed), "0.1.0");
    assert.equal(existsSync(m.backup), false);
    assert.deepEqual(m.signals, []);
  });

  it("refuses a file that does not print an rdhpf version", async () => {
    const m = machine();
    writeFileSync(m.newBinary, readFileSync(m.newBinary).subarray(0, 64));
    await assert.rejects(upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps), /check: .*--version did not print an rdhpf version/);
    assert.equal(versionIn(m.installed), "0.1.0");
  });

  it("--dry-run prints every step and changes nothing", async () => {
    const m = machine();
    await upgradeService(m.newBinary, { ...quick, dryRun: true, loc: m.loc }, m.deps);
    const text = m.lines.join("\n");
    for (const want of ["would copy", "would replace", "would send SIGUSR2 to pid 1000", "systemctl --user restart rdhpf.service", "would verify", "on failure"]) assert.ok(text.includes(want), `${want} missing in:\n${text}`);
    assert.equal(versionIn(m.installed), "0.1.0");
    assert.equal(existsSync(m.backup), false);
    assert.deepEqual(m.signals, []);
  });

  it("rolls back when the new daemon loses a forward, and names the failed step", async () => {
    const m = machine({ newDaemon: (version, before) => (version === "0.2.0" ? { forwards: (before?.forwards ?? []).slice(1) } : {}) });
    await assert.rejects(upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps), (e: RdhpfError) => /^upgrade failed at verify: .*aaaaaaaaaaaa:5432.*rolled back/.test(e.message) && e.exitCode === 1);
    assert.equal(versionIn(m.installed), "0.1.0", "the backup is back in place");
    assert.equal(m.daemon()?.version, "0.1.0", "the old version runs again");
    assert.deepEqual(m.signals, ["SIGUSR2 1000", "SIGUSR2 1001"]);
  });

  it("rolls back when the new daemon never connects", async () => {
    const m = machine({ newDaemon: (version) => (version === "0.2.0" ? { state: "reconnecting" } : {}) });
    await assert.rejects(upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps), /upgrade failed at verify: .*reconnecting, not connected.*rolled back/);
    assert.equal(versionIn(m.installed), "0.1.0");
  });

  it("puts the old binary back when the old daemon does not hand over, which keeps running", async () => {
    const m = machine({ ignoreUsr2: true });
    await assert.rejects(upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps), /upgrade failed at hand over: .*did not exit/);
    assert.equal(versionIn(m.installed), "0.1.0");
    assert.equal(m.daemon()?.pid, 1000);
  });

  it("upgrades a service whose daemon is not running: nothing to hand over, then starts and verifies", async () => {
    const m = machine();
    (m.daemon() as Daemon).exited = true;
    await upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps);
    assert.deepEqual(m.signals, []);
    assert.equal(m.daemon()?.version, "0.2.0");
  });

  it("says what to do when no service is installed", async () => {
    const m = machine();
    await assert.rejects(upgradeService(m.newBinary, { ...quick, loc: { ...m.loc, home: join(scratch, "nobody") } }, m.deps), (e: RdhpfError) => /no rdhpf service is installed/.test(e.message) && e.exitCode === 2 && /rdhpf service install/.test(e.hint ?? ""));
  });
});

describe("rdhpf service rollback", () => {
  it("restores the backup, hands over and verifies the old version", async () => {
    const m = machine();
    await upgradeService(m.newBinary, { ...quick, loc: m.loc }, m.deps);
    await rollbackService({ ...quick, loc: m.loc }, m.deps);
    assert.equal(versionIn(m.installed), "0.1.0");
    assert.equal(m.daemon()?.version, "0.1.0");
    assert.deepEqual(m.signals, ["SIGUSR2 1000", "SIGUSR2 1001"]);
  });

  it("without a backup, says so and changes nothing", async () => {
    const m = machine();
    await assert.rejects(rollbackService({ ...quick, loc: m.loc }, m.deps), (e: RdhpfError) => /no usable backup/.test(e.message) && e.exitCode === 2);
    assert.equal(versionIn(m.installed), "0.1.0");
  });
});
