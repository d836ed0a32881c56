/**
 * Installing, replacing, removing and inspecting the rdhpf service. The plan
 * (which file, which content, which launchctl/systemctl commands) is pure;
 * writing the file and running the commands happen here, at the edge.
 *
 * Commands run only when asked to (`execute`), which the CLI does only on the
 * platform the plan is for and when the tool is on PATH; otherwise they are
 * printed for the user to run on the target machine.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { accessSync, constants, copyFileSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { writeFileAtomic } from "../atomic_file.ts";
import { shellLine, shellWord } from "../shell_words.ts";
import { RdhpfError, usageError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { isManagedPlist, LAUNCHD_LABEL, launchdPlist } from "./launchd.ts";
import { SERVICE_PATH } from "./spec.ts";
import { isManagedUnit, SYSTEMD_UNIT, systemdUnit } from "./systemd.ts";

const log = getLogger(["rdhpf", "service"]);

export const ServicePlatformSchema = z.enum(["darwin", "linux"]);
/** The service managers rdhpf knows: launchd (darwin) and systemd (linux). */
export type ServicePlatform = z.infer<typeof ServicePlatformSchema>;

export const PlanOptionsSchema = z.object({
  platform: ServicePlatformSchema,
  home: z.string().startsWith("/"),
  uid: z.number().int().nonnegative(),
  binary: z.string(),
  target: z.string(),
  runArgs: z.array(z.string()),
  /** Extra environment for the service, e.g. SSH_AUTH_SOCK. PATH is always set. */
  env: z.record(z.string(), z.string()).default({}),
});
export type PlanOptions = z.input<typeof PlanOptionsSchema>;

/** Where the service lives on one machine; enough for uninstall and status. */
export const ServiceLocationSchema = PlanOptionsSchema.pick({ platform: true, home: true, uid: true });
export type ServiceLocation = z.infer<typeof ServiceLocationSchema>;

/** One service-manager command. */
export interface ServiceCommand {
  argv: string[];
  /** Failure is expected in some states (e.g. "not loaded") and is only reported. */
  mayFail: boolean;
  /** Further attempts, 1 s apart, for commands that race with the previous one. */
  retries: number;
}

/** Everything `rdhpf service` does on one machine, computed without touching it. */
export interface ServicePlan {
  platform: ServicePlatform;
  filePath: string;
  content: string;
  /** launchd only: the directory of stdout.log/stderr.log, created before the job starts. */
  logDir: string | null;
  /** Run after the file is written. Idempotent: they also replace a running service. */
  install: ServiceCommand[];
  /** Run before the file is removed. */
  uninstall: ServiceCommand[];
  /** Run after the file is removed. */
  afterUninstall: ServiceCommand[];
  /** Shows the manager's view of the service. */
  status: ServiceCommand[];
  /** Advice printed after installing. */
  notes: string[];
}

function cmd(argv: string[], mayFail = false, retries = 0): ServiceCommand {
  return { argv, mayFail, retries };
}

/** The launchd log directory: `~/Library/Logs/rdhpf`. */
export function launchdLogDir(home: string): string {
  return join(home, "Library", "Logs", "rdhpf");
}

/** The service file path for a platform: the LaunchAgent plist or the systemd user unit. */
export function serviceFilePath(platform: ServicePlatform, home: string): string {
  return platform === "darwin"
    ? join(home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`)
    : join(home, ".config", "systemd", "user", SYSTEMD_UNIT);
}

/** True when the file content carries the marker of `rdhpf service install`. */
export function isManagedServiceFile(platform: ServicePlatform, content: string): boolean {
  return platform === "darwin" ? isManagedPlist(content) : isManagedUnit(content);
}

function managerCommands(loc: ServiceLocation): Pick<ServicePlan, "install" | "uninstall" | "afterUninstall" | "status"> {
  const file = serviceFilePath(loc.platform, loc.home);
  if (loc.platform === "darwin") {
    const domain = `gui/${loc.uid}`;
    const service = `${domain}/${LAUNCHD_LABEL}`;
    return {
      // bootout fails with "No such process" when nothing is loaded: fine.
      // enable clears a `launchctl disable` left behind, which would make
      // bootstrap fail; bootstrap can also race a bootout still finishing.
      install: [cmd(["launchctl", "bootout", service], true), cmd(["launchctl", "enable", service]), cmd(["launchctl", "bootstrap", domain, file], false, 3)],
      uninstall: [cmd(["launchctl", "bootout", service], true)],
      afterUninstall: [],
      status: [cmd(["launchctl", "print", service], true)],
    };
  }
  return {
    // restart starts a stopped unit and replaces a running one, so the same
    // list serves a first install and the copy-a-new-binary-over flow.
    install: [
      cmd(["systemctl", "--user", "daemon-reload"]),
      cmd(["systemctl", "--user", "enable", SYSTEMD_UNIT]),
      cmd(["systemctl", "--user", "restart", SYSTEMD_UNIT]),
    ],
    uninstall: [cmd(["systemctl", "--user", "disable", "--now", SYSTEMD_UNIT], true)],
    afterUninstall: [cmd(["systemctl", "--user", "daemon-reload"], true)],
    status: [cmd(["systemctl", "--user", "is-active", SYSTEMD_UNIT], true)],
  };
}

/** Computes the service file and the commands for installing rdhpf as a service. Pure. */
export function planService(input: PlanOptions): ServicePlan {
  const opts = PlanOptionsSchema.parse(input);
  const logDir = launchdLogDir(opts.home);
  const spec = {
    binary: opts.binary,
    target: opts.target,
    runArgs: opts.runArgs,
    home: opts.home,
    logDir,
    env: { PATH: SERVICE_PATH, ...opts.env },
  };
  const darwin = opts.platform === "darwin";
  const notes = darwin
    ? [
      `logs: ${logDir}/ (stdout.log and stderr.log catch what rdhpf prints before its own log is set up)`,
      `restart: launchctl kickstart -k gui/${opts.uid}/${LAUNCHD_LABEL}`,
    ]
    : [
      `logs: journalctl --user -u ${SYSTEMD_UNIT}`,
      "a user service stops at logout unless lingering is on: loginctl enable-linger \"$USER\"",
    ];
  if (!("SSH_AUTH_SOCK" in opts.env)) {
    notes.push("the service gets no SSH_AUTH_SOCK: keys must be readable without an agent, or pass --ssh-auth-sock PATH");
  }
  return {
    platform: opts.platform,
    filePath: serviceFilePath(opts.platform, opts.home),
    content: darwin ? launchdPlist(spec) : systemdUnit(spec),
    logDir: darwin ? logDir : null,
    ...managerCommands(opts),
    notes,
  };
}

/** Result of running one command. */
export interface CommandResult {
  argv: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one argv (no shell). Injected in tests. */
export type CommandRunner = (argv: string[]) => Promise<CommandResult>;

/** Runs argv with execFile, 30 s timeout. */
export const execServiceCommand: CommandRunner = (argv) =>
  new Promise((resolve) => {
    log.debug("running service manager command", { argv });
    const [file, ...args] = argv;
    execFile(file as string, args, { timeout: 30_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ argv, code, stdout, stderr: stderr || (err && typeof err.code !== "number" ? err.message : "") });
    });
  });

/** True when `name` is an executable file in one of the PATH directories. */
export function onPath(name: string, pathEnv: string | undefined = process.env.PATH): boolean {
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Whether this machine can run the plan's commands: same platform, and the tool is on PATH. */
export function canRunCommands(platform: ServicePlatform, hostPlatform: string = process.platform, pathEnv?: string): boolean {
  return platform === hostPlatform && onPath(platform === "darwin" ? "launchctl" : "systemctl", pathEnv);
}

/** How install/uninstall behave. */
export interface ApplyOptions {
  /** Print what would be done; change nothing. */
  dryRun: boolean;
  /** Run the manager commands (else print them). */
  execute: boolean;
  /** Replace a service file that `rdhpf service install` did not write (kept as `<file>.before-rdhpf`). */
  force?: boolean;
  run?: CommandRunner;
  print?: (line: string) => void;
  /** Pause between retries; tests pass 0. */
  retryDelayMs?: number;
}

const defaultPrint = (line: string) => void process.stdout.write(`${line}\n`);

function printCommands(print: (line: string) => void, title: string, commands: ServiceCommand[]): void {
  if (commands.length === 0) return;
  print(title);
  for (const c of commands) print(`  ${shellLine(c.argv)}${c.mayFail ? "   # may fail when not loaded" : ""}`);
}

async function runAll(commands: ServiceCommand[], opts: ApplyOptions, hint: string | null): Promise<CommandResult[]> {
  const run = opts.run ?? execServiceCommand;
  const print = opts.print ?? defaultPrint;
  const results: CommandResult[] = [];
  for (const c of commands) {
    let result = await run(c.argv);
    for (let attempt = 0; result.code !== 0 && attempt < c.retries; attempt++) {
      await sleep(opts.retryDelayMs ?? 1000);
      result = await run(c.argv);
    }
    results.push(result);
    const line = shellLine(c.argv);
    if (result.code === 0) {
      print(`ran: ${line}`);
    } else if (c.mayFail) {
      print(`ran: ${line} (exit ${result.code}, expected when not loaded)`);
    } else {
      throw new RdhpfError(
        `${line} failed with exit ${result.code}: ${(result.stderr || result.stdout).trim()}`,
        hint,
      );
    }
  }
  return results;
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

const INSTALL_HINT = "the service file is in place; fix the cause and run `rdhpf service install` again, " +
  "or run the commands by hand (a systemd user manager needs a login session of this user, or `loginctl enable-linger`)";

/** What install did. */
export interface InstallResult {
  filePath: string;
  /** A service file was there before (ours or, with force, someone else's). */
  replaced: boolean;
  /** Where a foreign file was moved, with force. */
  backupPath: string | null;
  commands: CommandResult[];
}

/**
 * Writes the service file (replacing an earlier one of ours) and starts or
 * restarts the service. Refuses to overwrite a file it did not write unless
 * `force` (the old file is then kept beside it).
 */
export async function installService(plan: ServicePlan, opts: ApplyOptions): Promise<InstallResult> {
  const print = opts.print ?? defaultPrint;
  const existing = readIfExists(plan.filePath);
  const foreign = existing !== null && !isManagedServiceFile(plan.platform, existing);
  if (foreign && !opts.force) {
    throw usageError(
      `${plan.filePath} exists and was not written by rdhpf service install; not replacing it`,
      `look at it, then move it away or pass --force (it is kept as ${plan.filePath}.before-rdhpf)`,
    );
  }
  if (opts.dryRun) {
    print(`# would write ${plan.filePath}${existing !== null ? " (replacing the existing file)" : ""}:`);
    print(plan.content.trimEnd());
    if (plan.logDir) print(`# would create ${plan.logDir}/`);
    printCommands(print, opts.execute ? "# then run:" : "# then, on the target machine, run:", plan.install);
    for (const note of plan.notes) print(`# note: ${note}`);
    return { filePath: plan.filePath, replaced: existing !== null, backupPath: null, commands: [] };
  }
  let backupPath: string | null = null;
  if (foreign) {
    backupPath = `${plan.filePath}.before-rdhpf`;
    copyFileSync(plan.filePath, backupPath);
    print(`kept the previous ${plan.filePath} as ${backupPath}`);
  }
  if (plan.logDir) mkdirSync(plan.logDir, { recursive: true, mode: 0o755 });
  writeFileAtomic(plan.filePath, plan.content, { mode: 0o644, createDirMode: 0o755 });
  log.info("service file written", { path: plan.filePath, replaced: existing !== null });
  print(`${existing !== null ? "replaced" : "wrote"} ${plan.filePath}`);
  let commands: CommandResult[] = [];
  if (opts.execute) {
    commands = await runAll(plan.install, opts, INSTALL_HINT);
  } else {
    printCommands(print, "to start it, run on the target machine:", plan.install);
  }
  for (const note of plan.notes) print(`note: ${note}`);
  return { filePath: plan.filePath, replaced: existing !== null, backupPath, commands };
}

/** What uninstall did. */
export interface UninstallResult {
  filePath: string;
  /** False when there was nothing to remove. */
  removed: boolean;
  commands: CommandResult[];
}

/**
 * Stops the service and removes its file, only when `rdhpf service install`
 * wrote it: a foreign file is a usage error (exit 2) and stays untouched.
 */
export async function uninstallService(loc: ServiceLocation, opts: ApplyOptions): Promise<UninstallResult> {
  const print = opts.print ?? defaultPrint;
  const filePath = serviceFilePath(loc.platform, loc.home);
  const existing = readIfExists(filePath);
  if (existing === null) {
    print(`nothing to remove: ${filePath} does not exist`);
    return { filePath, removed: false, commands: [] };
  }
  if (!isManagedServiceFile(loc.platform, existing)) {
    throw usageError(
      `${filePath} was not written by rdhpf service install; leaving it alone`,
      loc.platform === "darwin"
        ? `if it is an older rdhpf agent, remove it by hand: launchctl bootout gui/${loc.uid}/${LAUNCHD_LABEL}; rm ${shellWord(filePath)}`
        : `if it is an older rdhpf unit, remove it by hand: systemctl --user disable --now ${SYSTEMD_UNIT}; rm ${shellWord(filePath)}`,
    );
  }
  const commands = managerCommands(loc);
  if (opts.dryRun) {
    printCommands(print, opts.execute ? "# would run:" : "# would print for the target machine:", commands.uninstall);
    print(`# would remove ${filePath}`);
    printCommands(print, "# then:", commands.afterUninstall);
    return { filePath, removed: false, commands: [] };
  }
  const results: CommandResult[] = [];
  if (opts.execute) results.push(...(await runAll(commands.uninstall, opts, null)));
  else printCommands(print, "first stop it; run on the target machine:", commands.uninstall);
  unlinkSync(filePath);
  log.info("service file removed", { path: filePath });
  print(`removed ${filePath}`);
  if (opts.execute) results.push(...(await runAll(commands.afterUninstall, opts, null)));
  else printCommands(print, "then run:", commands.afterUninstall);
  if (loc.platform === "darwin") print(`note: logs stay in ${launchdLogDir(loc.home)}/`);
  return { filePath, removed: true, commands: results };
}

export const ServiceStatusSchema = z.object({
  platform: ServicePlatformSchema,
  filePath: z.string(),
  installed: z.boolean(),
  /** Written by `rdhpf service install` (false also when not installed). */
  managed: z.boolean(),
  /** launchd "state = running", systemd "active"; null when the manager was not asked. */
  state: z.string().nullable(),
  /** launchd only: "pid = N" of the running job. */
  pid: z.number().int().nullable(),
  /** The manager's own output, for the user to read. */
  managerOutput: z.string().nullable(),
});
/** What `rdhpf service status` reports. */
export type ServiceStatus = z.infer<typeof ServiceStatusSchema>;

/** Reads the service file and, with `execute`, asks the service manager about the job. */
export async function serviceStatus(loc: ServiceLocation, opts: { execute: boolean; run?: CommandRunner }): Promise<ServiceStatus> {
  const filePath = serviceFilePath(loc.platform, loc.home);
  const content = readIfExists(filePath);
  let state: string | null = null;
  let pid: number | null = null;
  let managerOutput: string | null = null;
  if (opts.execute) {
    const [status] = managerCommands(loc).status;
    const result = await (opts.run ?? execServiceCommand)((status as ServiceCommand).argv);
    managerOutput = (result.stdout + result.stderr).trim();
    if (loc.platform === "darwin") {
      state = result.code === 0 ? (/^\s*state = (.+)$/m.exec(result.stdout)?.[1]?.trim() ?? "loaded") : "not loaded";
      const pidMatch = /^\s*pid = (\d+)$/m.exec(result.stdout);
      pid = pidMatch ? Number(pidMatch[1]) : null;
    } else {
      // is-active prints the state; without a user manager it prints only an error.
      state = result.stdout.trim() || `unknown: ${result.stderr.trim().split("\n")[0] || `exit ${result.code}`}`;
    }
  }
  return {
    platform: loc.platform,
    filePath,
    installed: content !== null,
    managed: content !== null && isManagedServiceFile(loc.platform, content),
    state,
    pid,
    managerOutput,
  };
}

/** True when `path` is an executable file here. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
