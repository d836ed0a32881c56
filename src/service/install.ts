/**
 * Installing, replacing, removing and inspecting the rdhpf service: applies
 * a plan from `plan.ts` to this machine (the service file written
 * atomically, a file rdhpf did not write left alone unless forced) and runs
 * or prints the manager commands through `manager_commands.ts`.
 *
 * Commands run only when asked to (`execute`), which the CLI does only on the
 * platform the plan is for and when the tool is on PATH; otherwise they are
 * printed for the user to run on the target machine.
 *
 * @module
 */
import { copyFileSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { writeFileAtomic } from "../atomic_file.ts";
import { shellWord } from "../shell_words.ts";
import { usageError } from "../errors.ts";
import { type CommandResult, type CommandRunner, execServiceCommand, printCommands, printLine, type RunOptions, runCommands } from "./manager_commands.ts";
import {
  isManagedServiceFile,
  launchdLabel,
  launchdLogDir,
  managerCommands,
  type ServiceCommand,
  type ServiceLocation,
  type ServicePlan,
  ServicePlatformSchema,
  serviceArgvFromFile,
  serviceFilePath,
  systemdUnitName,
} from "./plan.ts";

const log = getLogger(["rdhpf", "service"]);

/** How install/uninstall behave. */
export interface ApplyOptions extends RunOptions {
  /** Print what would be done; change nothing. */
  dryRun: boolean;
  /** Run the manager commands (else print them). */
  execute: boolean;
  /** Replace a service file that `rdhpf service install` did not write (kept as `<file>.before-rdhpf`). */
  force?: boolean;
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
  const print = opts.print ?? printLine;
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
    commands = await runCommands(plan.install, opts, INSTALL_HINT);
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
  const print = opts.print ?? printLine;
  const filePath = serviceFilePath(loc.platform, loc.home, loc.name ?? null);
  const existing = readIfExists(filePath);
  if (existing === null) {
    print(`nothing to remove: ${filePath} does not exist`);
    return { filePath, removed: false, commands: [] };
  }
  if (!isManagedServiceFile(loc.platform, existing)) {
    throw usageError(
      `${filePath} was not written by rdhpf service install; leaving it alone`,
      loc.platform === "darwin"
        ? `if it is an older rdhpf agent, remove it by hand: launchctl bootout gui/${loc.uid}/${launchdLabel(loc.name ?? null)}; rm ${shellWord(filePath)}`
        : `if it is an older rdhpf unit, remove it by hand: systemctl --user disable --now ${systemdUnitName(loc.name ?? null)}; rm ${shellWord(filePath)}`,
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
  if (opts.execute) results.push(...(await runCommands(commands.uninstall, opts, null)));
  else printCommands(print, "first stop it; run on the target machine:", commands.uninstall);
  unlinkSync(filePath);
  log.info("service file removed", { path: filePath });
  print(`removed ${filePath}`);
  if (opts.execute) results.push(...(await runCommands(commands.afterUninstall, opts, null)));
  else printCommands(print, "then run:", commands.afterUninstall);
  if (loc.platform === "darwin") print(`note: logs stay in ${launchdLogDir(loc.home, loc.name ?? null)}/`);
  return { filePath, removed: true, commands: results };
}

export const ServiceStatusSchema = z.object({
  platform: ServicePlatformSchema,
  /** null: the first service (`com.rdhpf` / `rdhpf.service`); else `com.rdhpf.<name>` / `rdhpf-<name>.service`. */
  name: z.string().nullable(),
  /** TARGET the service runs for, read from its file; null when not installed or not ours. */
  target: z.string().nullable(),
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
  const filePath = serviceFilePath(loc.platform, loc.home, loc.name ?? null);
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
  const argv = content !== null && isManagedServiceFile(loc.platform, content) ? serviceArgvFromFile(loc.platform, content) : null;
  return {
    platform: loc.platform,
    name: loc.name ?? null,
    target: argv?.[3] ?? null,
    filePath,
    installed: content !== null,
    managed: content !== null && isManagedServiceFile(loc.platform, content),
    state,
    pid,
    managerOutput,
  };
}
