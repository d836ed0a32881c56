/**
 * The rdhpf service on one machine, computed without touching it: which
 * file (LaunchAgent plist or systemd user unit), with which content, and
 * which launchctl/systemctl commands install, remove and inspect it. Pure, so
 * a plan for another platform can be printed and checked anywhere;
 * `install.ts` applies it.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { GC_TIMER_VARIABLE } from "../gc_pacing.ts";
import { isManagedPlist, LAUNCHD_LABEL, launchdPlist, plistProgramArguments } from "./launchd.ts";
import { SERVICE_PATH } from "./spec.ts";
import { isManagedUnit, SYSTEMD_UNIT, systemdUnit, unitExecStartArgv } from "./systemd.ts";

export const ServicePlatformSchema = z.enum(["darwin", "linux"]);
/** The service managers rdhpf knows: launchd (darwin) and systemd (linux). */
export type ServicePlatform = z.infer<typeof ServicePlatformSchema>;

/**
 * A service's own name beside the first one: `com.rdhpf.<name>` /
 * `rdhpf-<name>.service`. null is the first (or only) service, with the
 * plain names `com.rdhpf` / `rdhpf.service` that installs before several
 * hosts were possible already use.
 */
export const ServiceNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be letters, digits, _ . - (at most 63)").nullable();
export type ServiceName = z.infer<typeof ServiceNameSchema>;

export const PlanOptionsSchema = z.object({
  platform: ServicePlatformSchema,
  name: ServiceNameSchema.default(null),
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
export const ServiceLocationSchema = PlanOptionsSchema.pick({ platform: true, name: true, home: true, uid: true });
export type ServiceLocation = z.input<typeof ServiceLocationSchema>;

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
  /**
   * Starts the service after its daemon exited by itself (the hand-over of
   * `rdhpf service upgrade`), never signalling a running one: launchd's
   * `kickstart` without `-k` (which would send SIGTERM), systemd's `restart`,
   * which only starts a unit whose main process is gone.
   */
  start: ServiceCommand[];
  /** Advice printed after installing. */
  notes: string[];
}

function cmd(argv: string[], mayFail = false, retries = 0): ServiceCommand {
  return { argv, mayFail, retries };
}

/** The launchd log directory: `~/Library/Logs/rdhpf`, and `…/rdhpf/<name>` for a named service. */
export function launchdLogDir(home: string, name: ServiceName = null): string {
  return name === null ? join(home, "Library", "Logs", "rdhpf") : join(home, "Library", "Logs", "rdhpf", name);
}

/** launchd label of the service: `com.rdhpf`, `com.rdhpf.<name>`. */
export function launchdLabel(name: ServiceName = null): string {
  return name === null ? LAUNCHD_LABEL : `${LAUNCHD_LABEL}.${name}`;
}

/** systemd unit of the service: `rdhpf.service`, `rdhpf-<name>.service`. */
export function systemdUnitName(name: ServiceName = null): string {
  return name === null ? SYSTEMD_UNIT : SYSTEMD_UNIT.replace(/\.service$/, `-${name}.service`);
}

/** The directory of the service files: LaunchAgents, or the systemd user units. */
export function serviceDir(platform: ServicePlatform, home: string): string {
  return platform === "darwin" ? join(home, "Library", "LaunchAgents") : join(home, ".config", "systemd", "user");
}

/** The service file path for a platform: the LaunchAgent plist or the systemd user unit. */
export function serviceFilePath(platform: ServicePlatform, home: string, name: ServiceName = null): string {
  return join(serviceDir(platform, home), platform === "darwin" ? `${launchdLabel(name)}.plist` : systemdUnitName(name));
}

/** The service name a file name stands for (`com.rdhpf.x.plist` → "x", `rdhpf.service` → null); undefined when it is not one of ours. */
export function serviceNameOfFile(platform: ServicePlatform, fileName: string): ServiceName | undefined {
  const m = platform === "darwin" ? /^com\.rdhpf(?:\.(.+))?\.plist$/.exec(fileName) : /^rdhpf(?:-(.+))?\.service$/.exec(fileName);
  if (!m) return undefined;
  const name = m[1] ?? null;
  return ServiceNameSchema.safeParse(name).success ? name : undefined;
}

/** True when the file content carries the marker of `rdhpf service install`. */
export function isManagedServiceFile(platform: ServicePlatform, content: string): boolean {
  return platform === "darwin" ? isManagedPlist(content) : isManagedUnit(content);
}

/** The launchctl/systemctl commands for the service at `loc`, by phase. */
export function managerCommands(loc: ServiceLocation): Pick<ServicePlan, "install" | "uninstall" | "afterUninstall" | "status" | "start"> {
  const name = loc.name ?? null;
  const file = serviceFilePath(loc.platform, loc.home, name);
  const SYSTEMD_UNIT = systemdUnitName(name);
  if (loc.platform === "darwin") {
    const domain = `gui/${loc.uid}`;
    const service = `${domain}/${launchdLabel(name)}`;
    return {
      // bootout fails with "No such process" when nothing is loaded: fine.
      // enable clears a `launchctl disable` left behind, which would make
      // bootstrap fail; bootstrap can also race a bootout still finishing.
      install: [cmd(["launchctl", "bootout", service], true), cmd(["launchctl", "enable", service]), cmd(["launchctl", "bootstrap", domain, file], false, 3)],
      uninstall: [cmd(["launchctl", "bootout", service], true)],
      afterUninstall: [],
      status: [cmd(["launchctl", "print", service], true)],
      start: [cmd(["launchctl", "kickstart", service], false, 2)],
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
    start: [cmd(["systemctl", "--user", "restart", SYSTEMD_UNIT], false, 2)],
  };
}

/** Computes the service file and the commands for installing rdhpf as a service. Pure. */
export function planService(input: PlanOptions): ServicePlan {
  const opts = PlanOptionsSchema.parse(input);
  const logDir = launchdLogDir(opts.home, opts.name);
  const spec = {
    binary: opts.binary,
    target: opts.target,
    runArgs: opts.runArgs,
    home: opts.home,
    logDir,
    // Set here, the daemon starts without Bun's GC timer at once, with no re-exec of itself (src/gc_pacing.ts).
    env: { PATH: SERVICE_PATH, [GC_TIMER_VARIABLE]: "1", ...opts.env },
  };
  const darwin = opts.platform === "darwin";
  const notes = darwin
    ? [
      `logs: ${logDir}/ (stdout.log and stderr.log catch what rdhpf prints before its own log is set up)`,
      `restart: launchctl kickstart -k gui/${opts.uid}/${launchdLabel(opts.name)}`,
    ]
    : [
      `logs: journalctl --user -u ${systemdUnitName(opts.name)}`,
      "a user service stops at logout unless lingering is on: loginctl enable-linger \"$USER\"",
    ];
  if (!("SSH_AUTH_SOCK" in opts.env)) {
    notes.push("the service gets no SSH_AUTH_SOCK: keys must be readable without an agent, or pass --ssh-auth-sock PATH");
  }
  return {
    platform: opts.platform,
    filePath: serviceFilePath(opts.platform, opts.home, opts.name),
    content: darwin ? launchdPlist(spec, launchdLabel(opts.name)) : systemdUnit(spec),
    logDir: darwin ? logDir : null,
    ...managerCommands(opts),
    notes,
  };
}

/**
 * The argv the service runs (`[binary, "run", "--host", target, …]`) as read
 * back from a service file that `rdhpf service install` wrote; null when it
 * cannot be read.
 */
export function serviceArgvFromFile(platform: ServicePlatform, content: string): string[] | null {
  const argv = platform === "darwin" ? plistProgramArguments(content) : unitExecStartArgv(content);
  return argv !== null && argv.length >= 4 && argv[1] === "run" && argv[2] === "--host" ? argv : null;
}
