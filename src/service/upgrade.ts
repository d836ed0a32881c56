/**
 * `rdhpf service upgrade` and `rdhpf service rollback`: the whole
 * replace-and-roll-back runbook of a service in one command, on the machine
 * where the service is installed.
 *
 *   check NEW ──► back up + replace ──► hand over ──► start ──► verify
 *                        │                  │           │          │
 *                        └─────── any failure: restore the backup, ┘
 *                                 hand over, start, verify the old one
 *
 * The hand-over is SIGUSR2, never SIGTERM: the old daemon exits at once and
 * leaves its SSH master, its forwards and the connections through them
 * running; the new daemon adopts them. Only then does the service manager
 * start the new binary (launchd's `kickstart` without `-k`, which would
 * send SIGTERM; systemd's `restart`, which only starts a unit whose main
 * process is gone).
 *
 * The daemon is asked through the installed binary's own `rdhpf status`, so
 * "verified" means the new binary answers as a user would see it.
 *
 * @module
 */
import { accessSync, closeSync, constants, copyFileSync, chmodSync, openSync, readFileSync, readSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { RdhpfError, usageError } from "../errors.ts";
import { shellLine, shellWord } from "../shell_words.ts";
import { waitForExit } from "../process/mod.ts";
import { sleep } from "../sleep.ts";
import { platformName } from "../version.ts";
import { type BinaryPlatform, type BuildIdentity, describeBuild, executablePlatform, parseVersionOutput, sameBuild } from "./binary_check.ts";
import { type CommandRunner, execServiceCommand, printCommands, runCommands } from "./manager_commands.ts";
import { isManagedServiceFile, managerCommands, type ServiceLocation, serviceArgvFromFile, serviceFilePath } from "./plan.ts";

const log = getLogger(["rdhpf", "service"]);

/** The steps, named in every report and in the error of the one that failed. */
export type UpgradeStep = "check" | "replace" | "hand over" | "start" | "verify";

/** What the upgrade and rollback need from the machine; tests replace parts. */
export interface UpgradeDeps {
  /** Runs an argv (no shell): the binaries' `--version` and `status`, and the manager commands. */
  run: CommandRunner;
  print: (line: string) => void;
  /** Sends a signal to a pid. */
  signal: (pid: number, signal: NodeJS.Signals) => void;
  /** Waits until the pid is gone; false when it is still there after the timeout. */
  waitForExit: (pid: number, timeoutMs: number) => Promise<boolean>;
  /** This machine's platform. */
  machine: BinaryPlatform;
}

export interface UpgradeOptions {
  loc: ServiceLocation;
  /** Print every step and command; change nothing. */
  dryRun: boolean;
  /** How long the new daemon has to answer as expected. */
  timeoutMs: number;
}

/** How long the old daemon may take to exit after SIGUSR2 (it exits at once: it only writes its state file). */
const HAND_OVER_EXIT_MS = 10_000;
/** Pause between two status queries while verifying. */
const VERIFY_POLL_MS = 250;
/** While verifying, the start command is repeated this often in case the manager had not yet seen the old daemon exit. */
const START_AGAIN_MS = 3_000;

/** The part of `rdhpf status --host … --format json` that the checks read; newer fields pass. */
const DaemonAnswerSchema = z.object({
  pid: z.number().int(),
  version: z.string(),
  commit: z.string().default("unknown"),
  state: z.string(),
  live: z.boolean(),
  forwards: z.array(z.object({ container_id: z.string(), local_port: z.number().int(), state: z.string() })),
});
type DaemonAnswer = z.infer<typeof DaemonAnswerSchema>;

/** The installed service as its file describes it. */
interface UpgradeTarget {
  binary: string;
  /** `rdhpf status` arguments that select the service's instance. */
  statusArgs: string[];
  backup: string;
}

/** `rdhpf status` options that change which instance a target resolves to (copied from the service's argv). */
const SELECTING_OPTIONS = new Set(["--config", "-F", "--ssh-config", "-o", "--ssh-option"]);

function readService(loc: ServiceLocation): UpgradeTarget {
  const file = serviceFilePath(loc.platform, loc.home, loc.name ?? null);
  let content: string;
  try {
    content = readFileSync(file, "utf8");
  } catch {
    throw usageError(`no rdhpf service is installed here (${file} does not exist)`, "install it first: rdhpf service install --host TARGET --binary /usr/local/bin/rdhpf");
  }
  const argv = isManagedServiceFile(loc.platform, content) ? serviceArgvFromFile(loc.platform, content) : null;
  if (argv === null) {
    throw usageError(`${file} was not written by rdhpf service install, or cannot be read back`, "install the service with rdhpf service install, then upgrade it");
  }
  const [binary, , , target, ...runArgs] = argv as [string, string, string, string, ...string[]];
  const statusArgs = ["--host", target];
  for (let i = 0; i < runArgs.length; i++) {
    const flag = runArgs[i] as string;
    if (SELECTING_OPTIONS.has(flag) && i + 1 < runArgs.length) statusArgs.push(flag, runArgs[++i] as string);
  }
  return { binary, statusArgs, backup: join(dirname(binary), `${basename(binary)}.backup`) };
}

/** `BINARY --version` → its version, or an error naming what it printed. */
async function versionOf(run: CommandRunner, binary: string, step: UpgradeStep): Promise<BuildIdentity> {
  const r = await run([binary, "--version"]);
  const version = r.code === 0 ? parseVersionOutput(r.stdout) : null;
  if (version === null) {
    throw stepError(step, `${binary} --version did not print an rdhpf version (exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200) || "no output"})`);
  }
  return version;
}

/** The platform an executable was built for, from its first bytes. */
function platformOf(binary: string): BinaryPlatform | null {
  const header = new Uint8Array(64);
  const fd = openSync(binary, "r");
  try {
    return executablePlatform(header.subarray(0, readSync(fd, header, 0, 64, 0)));
  } finally {
    closeSync(fd);
  }
}

/** The daemon as the installed binary's `rdhpf status` shows it; null when none answers live. */
async function askDaemon(run: CommandRunner, svc: UpgradeTarget): Promise<DaemonAnswer | null> {
  const r = await run([svc.binary, "status", ...svc.statusArgs, "--format", "json"]);
  try {
    const answer = DaemonAnswerSchema.parse(JSON.parse(r.stdout));
    return answer.live ? answer : null;
  } catch {
    return null;
  }
}

const forwardKey = (f: { container_id: string; local_port: number }) => `${f.container_id.slice(0, 12)}:${f.local_port}`;
const activeKeys = (a: DaemonAnswer) => new Set(a.forwards.filter((f) => f.state === "active").map(forwardKey));

function stepError(step: UpgradeStep, message: string, hint: string | null = null): RdhpfError {
  return new RdhpfError(`${step}: ${message}`, hint, 1);
}

/** Replaces `dest` with a copy of `src` in one rename, so the path is never missing or half-written. */
function replaceFile(src: string, dest: string): void {
  const tmp = join(dirname(dest), `.${basename(dest)}.rdhpf-${process.pid}`);
  try {
    copyFileSync(src, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function isWritableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** SIGUSR2 to the daemon that answered, then waits for it to exit. */
async function handOver(deps: UpgradeDeps, daemon: DaemonAnswer | null): Promise<void> {
  if (daemon === null) {
    deps.print("hand over: no daemon answers; nothing to hand over");
    return;
  }
  deps.signal(daemon.pid, "SIGUSR2");
  if (!(await deps.waitForExit(daemon.pid, HAND_OVER_EXIT_MS))) {
    throw stepError("hand over", `the daemon (pid ${daemon.pid}) did not exit within ${HAND_OVER_EXIT_MS / 1000} s of SIGUSR2`, "look at its log; a daemon older than the hand-over signal cannot be upgraded without a restart (rdhpf service install)");
  }
  deps.print(`hand over: sent SIGUSR2 to pid ${daemon.pid}; it exited, leaving its SSH master and forwards to its successor`);
}

/**
 * Starts the service and waits until the installed binary's status shows a
 * daemon other than `previous`, of `version`, connected, holding at least
 * the forwards `previous` held. Returns the answer, or throws naming what
 * was missing at the deadline.
 */
async function startAndVerify(deps: UpgradeDeps, opts: UpgradeOptions, svc: UpgradeTarget, build: BuildIdentity, previous: DaemonAnswer | null): Promise<DaemonAnswer> {
  const start = managerCommands(opts.loc).start;
  const startOnce = async () => {
    try {
      await runCommands(start, { run: deps.run, print: () => {}, retryDelayMs: 500 }, null);
    } catch (err) {
      throw stepError("start", (err as Error).message);
    }
  };
  await startOnce();
  deps.print(`start: ${start.map((c) => shellLine(c.argv)).join("; ")}`);
  const want = previous ? activeKeys(previous) : new Set<string>();
  const deadline = Date.now() + opts.timeoutMs;
  let nextStart = Date.now() + START_AGAIN_MS;
  let missing = "no daemon answered";
  for (;;) {
    const now = await askDaemon(deps.run, svc);
    if (now !== null) {
      const have = activeKeys(now);
      const lost = [...want].filter((k) => !have.has(k));
      if (now.pid === previous?.pid) missing = `the old daemon (pid ${now.pid}) still answers`;
      else if (!sameBuild(now, build)) missing = `the daemon answers as ${describeBuild(now)}, not ${describeBuild(build)}`;
      else if (now.state !== "connected") missing = `the daemon is ${now.state}, not connected`;
      else if (lost.length > 0) missing = `forwards active before are not active now: ${lost.join(", ")}`;
      else {
        deps.print(`verify: pid ${now.pid} answers as ${describeBuild(now)}, connected, ${have.size} active forwards (${want.size} before, none lost)`);
        return now;
      }
    } else if (Date.now() >= nextStart) {
      // The manager may have looked before the old daemon's exit was noticed.
      nextStart = Date.now() + START_AGAIN_MS;
      await startOnce();
    }
    if (Date.now() >= deadline) throw stepError("verify", `after ${opts.timeoutMs / 1000} s: ${missing}`);
    await sleep(VERIFY_POLL_MS);
  }
}

/**
 * Restores the backup and brings the old version back: the rollback path of
 * a failed upgrade (`before`: the daemon as it was before that upgrade), and
 * `rdhpf service rollback`. Throws when the old version does not answer
 * either.
 */
export async function rollbackService(opts: UpgradeOptions, deps: UpgradeDeps, before: DaemonAnswer | null = null): Promise<void> {
  const svc = readService(opts.loc);
  const oldVersion = await versionOf(deps.run, svc.backup, "check").catch(() => {
    throw usageError(`no usable backup at ${svc.backup}`, "a backup is written by rdhpf service upgrade; without one, install the wanted binary with rdhpf service install --binary PATH");
  });
  if (opts.dryRun) {
    printRollbackPlan(deps.print, opts.loc, svc, oldVersion);
    return;
  }
  replaceFile(svc.backup, svc.binary);
  deps.print(`rollback: restored ${svc.binary} from ${svc.backup} (${describeBuild(oldVersion)})`);
  const current = await askDaemon(deps.run, svc);
  if (current !== null && sameBuild(current, oldVersion) && current.state === "connected") {
    // The failure came before the old daemon handed over: it still runs.
    deps.print(`verify: pid ${current.pid} still answers as ${describeBuild(current)}, connected`);
    return;
  }
  await handOver(deps, current);
  // The forwards to find again: the daemon's now, else (after a failed upgrade) those before it.
  await startAndVerify(deps, opts, svc, oldVersion, current ?? before);
}

function printRollbackPlan(print: (line: string) => void, loc: ServiceLocation, svc: UpgradeTarget, oldVersion: BuildIdentity): void {
  print(`# would restore ${svc.binary} from ${svc.backup} (${describeBuild(oldVersion)})`);
  print("# would send SIGUSR2 to the running daemon and wait for it to exit");
  printCommands(print, "# would then run:", managerCommands(loc).start);
  print(`# would verify: ${shellLine([svc.binary, "status", ...svc.statusArgs, "--format", "json"])} shows ${describeBuild(oldVersion)}, connected`);
}

/**
 * `rdhpf service upgrade NEW`: check, back up and replace, hand over,
 * start, verify; on any failure after the replace, roll back and throw
 * naming the failed step (exit 1).
 */
export async function upgradeService(newBinary: string, opts: UpgradeOptions, deps: UpgradeDeps = defaultUpgradeDeps()): Promise<void> {
  const svc = readService(opts.loc);

  // 1. check: the new binary runs here and is rdhpf.
  let platform: BinaryPlatform | null;
  try {
    platform = platformOf(newBinary);
  } catch (err) {
    throw stepError("check", `cannot read ${newBinary}: ${(err as Error).message}`, "pass the path of the new rdhpf binary");
  }
  if (platform === null || platform.os !== deps.machine.os || platform.arch !== deps.machine.arch) {
    throw stepError("check", `${newBinary} is ${platform ? `a ${platformName(platform.os, platform.arch)} binary` : "not an executable rdhpf can recognise"}; this machine is ${platformName(deps.machine.os, deps.machine.arch)}`, `use the release binary rdhpf-${platformName(deps.machine.os, deps.machine.arch)}`);
  }
  const newVersion = await versionOf(deps.run, newBinary, "check");
  const before = await askDaemon(deps.run, svc);
  deps.print(`check: ${newBinary} is rdhpf ${describeBuild(newVersion)} for ${platformName(platform.os, platform.arch)}; running now: ${before ? `${describeBuild(before)}, pid ${before.pid}, ${activeKeys(before).size} active forwards` : "no daemon answers"}`);

  const dir = dirname(svc.binary);
  if (!isWritableDir(dir)) {
    printSudoCommands(deps.print, svc, newBinary, opts.loc, before);
    throw stepError("replace", `${dir} is not writable by this user; nothing was changed`, "run the commands printed above");
  }
  if (opts.dryRun) {
    deps.print(`# would copy ${svc.binary} to ${svc.backup}`);
    deps.print(`# would replace ${svc.binary} with ${newBinary} (written beside it, then renamed)`);
    deps.print(before ? `# would send SIGUSR2 to pid ${before.pid} and wait for it to exit` : "# no daemon answers: nothing to hand over");
    printCommands(deps.print, "# would then run:", managerCommands(opts.loc).start);
    deps.print(`# would verify within ${opts.timeoutMs / 1000} s: ${shellLine([svc.binary, "status", ...svc.statusArgs, "--format", "json"])} shows ${describeBuild(newVersion)}, connected, the same active forwards`);
    deps.print(`# on failure: restore ${svc.backup}, hand over, start, verify the old version (as rdhpf service rollback does)`);
    return;
  }

  // 2. back up and replace.
  replaceFile(svc.binary, svc.backup);
  replaceFile(newBinary, svc.binary);
  deps.print(`replace: backed up ${svc.binary} to ${svc.backup}; installed ${newBinary} in its place`);
  log.info("service binary replaced", { binary: svc.binary, backup: svc.backup, version: describeBuild(newVersion) });

  // 3-4. hand over, start, verify; 5. roll back on failure.
  try {
    await handOver(deps, before);
    await startAndVerify(deps, opts, svc, newVersion, before);
    log.info("service upgraded", { version: describeBuild(newVersion) });
  } catch (err) {
    const failure = err as Error;
    deps.print(`FAILED: ${failure.message}`);
    deps.print("rolling back");
    try {
      await rollbackService(opts, deps, before);
    } catch (rollbackErr) {
      throw new RdhpfError(`${failure.message}; the rollback failed too: ${(rollbackErr as Error).message}`, `the previous binary is at ${svc.backup}; look at the service's log and start it by hand`, 1);
    }
    throw new RdhpfError(`upgrade failed at ${failure.message}; rolled back to the previous version, which answers`, null, 1);
  }
}

function printSudoCommands(print: (line: string) => void, svc: UpgradeTarget, newBinary: string, loc: ServiceLocation, before: DaemonAnswer | null): void {
  const tmp = join(dirname(svc.binary), `.${basename(svc.binary)}.new`);
  print(`${dirname(svc.binary)} needs root to change; run these instead:`);
  print(`  sudo cp -p ${shellWord(svc.binary)} ${shellWord(svc.backup)}`);
  print(`  sudo install -m 0755 ${shellWord(newBinary)} ${shellWord(tmp)} && sudo mv -f ${shellWord(tmp)} ${shellWord(svc.binary)}`);
  if (before) print(`  kill -USR2 ${before.pid}   # hand over: the daemon exits, its SSH master and forwards stay`);
  for (const c of managerCommands(loc).start) print(`  ${shellLine(c.argv)}`);
  print(`  ${shellLine([svc.binary, "status", ...svc.statusArgs])}`);
}

/** The real machine: commands run, signals sent, this process's platform. */
export function defaultUpgradeDeps(): UpgradeDeps {
  return {
    run: execServiceCommand,
    print: (line) => void process.stdout.write(`${line}\n`),
    signal: (pid, sig) => process.kill(pid, sig),
    waitForExit,
    machine: { os: process.platform === "darwin" ? "darwin" : "linux", arch: process.arch === "arm64" ? "arm64" : process.arch === "x64" ? "x64" : "other" },
  };
}
