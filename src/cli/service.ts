/**
 * `rdhpf service install|uninstall|status|upgrade|rollback`: run rdhpf as a LaunchAgent
 * (macOS) or a systemd user unit (Linux). The `install` options are the
 * options of `rdhpf run` itself, copied from that command, so a new run
 * option is available here without a change in this file.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { homedir } from "node:os";
import { basename, resolve } from "node:path";
import { usageError } from "../errors.ts";
import { canRunCommands, defaultUpgradeDeps, installService, isExecutable, launchdLogDir, listServices, nameForInstall, planService, rollbackService, selectServices, type ServicePlatform, ServicePlatformSchema, serviceStatus, uninstallService, type UpgradeDeps, upgradeService } from "../service/mod.ts";
import { parseDuration } from "../status/mod.ts";
import { validateSshOption } from "../ssh/mod.ts";
import { hasUnsafeChars } from "../text_safety.ts";
import { loadConfigFile } from "./config_file.ts";
import { buildRules, validateBind } from "./forwarding_options.ts";
import { parseMetricsListen } from "./metrics_listen.ts";
import { targetSettings } from "./options.ts";
import { runCommand } from "./run.ts";
import { chooseTarget } from "../daemon/mod.ts";

/** What the service commands read from the process; tests replace it. */
export interface ServiceCliDeps {
  env: Record<string, string | undefined>;
  platform: string;
  execPath: string;
  uid: number;
  cwd: string;
  /** Runs launchctl/systemctl when true and the plan is for this platform. */
  allowExecute: boolean;
  print: (line: string) => void;
  setExitCode: (code: number) => void;
}

function defaultDeps(): ServiceCliDeps {
  return {
    env: process.env,
    platform: process.platform,
    execPath: process.execPath,
    uid: process.getuid?.() ?? 0,
    cwd: process.cwd(),
    allowExecute: true,
    print: (line) => void process.stdout.write(`${line}\n`),
    setExitCode: (code) => {
      process.exitCode = code;
    },
  };
}

const RUNTIMES = new Set(["bun", "deno", "node", "bun.exe", "deno.exe", "node.exe"]);

/**
 * The binary the service should run: --binary, else this process's own
 * executable when it is the compiled rdhpf (not a bun/deno/node runtime
 * running the sources).
 */
export function chooseBinary(binary: string | undefined, deps: Pick<ServiceCliDeps, "execPath" | "cwd">): string {
  if (binary !== undefined) return resolve(deps.cwd, binary);
  if (!RUNTIMES.has(basename(deps.execPath).toLowerCase())) return deps.execPath;
  throw usageError(
    `rdhpf runs from its sources under ${basename(deps.execPath)}, which a service cannot start by itself`,
    "build the binary with `npm run build`, then pass --binary dist/rdhpf-linux-x64 (or wherever it was copied, e.g. --binary /usr/local/bin/rdhpf)",
  );
}

function choosePlatform(raw: string | undefined, hostPlatform: string): ServicePlatform {
  const parsed = ServicePlatformSchema.safeParse(raw ?? hostPlatform);
  if (parsed.success) return parsed.data;
  throw usageError(`no service manager known for platform ${JSON.stringify(raw ?? hostPlatform)}`, "pass --platform darwin (launchd) or --platform linux (systemd)");
}

// Options of `rdhpf run` whose values are paths: made absolute, because a
// service starts in a different working directory.
const PATH_OPTIONS = new Set(["sshConfig", "logFile", "config", "dockerSocket"]);

/**
 * Turns the parsed `run` options back into argv for the service, validated
 * now (a bad value found at service start would only show up in a log).
 */
export function runArgsFor(runOptions: readonly Option[], values: Record<string, unknown>, cwd: string): string[] {
  const args: string[] = [];
  for (const opt of runOptions) {
    const key = opt.attributeName();
    const flag = opt.long;
    const value = values[key];
    // `--no-x` shares its value with `--x`: false is its turn, anything else the other's.
    if (opt.negate) {
      if (value === false && flag !== undefined) args.push(flag);
      continue;
    }
    if (key === "host" || flag === undefined || value === undefined || value === false) continue;
    const items = Array.isArray(value) ? value.map(String) : [value === true ? "" : String(value)];
    for (const item of items) {
      if (hasUnsafeChars(item)) throw usageError(`${flag} value contains control characters`, "pass plain values");
      if (value === true) {
        args.push(flag);
        continue;
      }
      let v = item;
      if (key === "sshOption") v = validateSshOption(item);
      if (key === "bind") validateBind(item);
      if (key === "metricsListen") parseMetricsListen(item);
      if (PATH_OPTIONS.has(key)) v = resolve(cwd, item);
      args.push(flag, v);
    }
  }
  // Port rules are parsed the way run parses them, to fail here and not at service start.
  buildRules(values.includePorts as string | undefined, values.excludePorts as string | undefined, (values.map as string[] | undefined) ?? []);
  return args;
}

function sshAuthSockEnv(raw: string | undefined, cwd: string): Record<string, string> {
  if (raw === undefined) return {};
  if (hasUnsafeChars(raw)) throw usageError("--ssh-auth-sock contains control characters", "pass the agent socket path");
  return { SSH_AUTH_SOCK: resolve(cwd, raw) };
}

function platformOption() {
  return new Option("--platform <platform>", "service manager to write for: darwin (launchd) or linux (systemd) (default: this machine's)").choices(ServicePlatformSchema.options);
}

/** `--host` and `--all` of the commands that act on installed services. */
function withServiceChoice(cmd: Command, verb: string): Command {
  return cmd
    .option("--host <target>", `the service of this TARGET (as given to install, or the service's name), when several are installed`)
    .option("--all", `${verb} every rdhpf service of this user`) as unknown as Command;
}

/** The locations of the services a command acts on (see selectServices). */
function chosenServices(deps: ServiceCliDeps, o: { platform?: string; host?: string; all?: boolean }): Array<{ platform: ServicePlatform; name: string | null; home: string; uid: number }> {
  const platform = choosePlatform(o.platform, deps.platform);
  const home = deps.env.HOME || homedir();
  return selectServices(listServices(platform, home), { host: o.host, all: o.all === true }).map((s) => ({ platform, name: s.name, home, uid: deps.uid }));
}

function installCommand(deps: ServiceCliDeps): Command {
  const cmd = new Command("install")
    .description("write the LaunchAgent (macOS) or systemd user unit (Linux) that keeps `rdhpf run` running, and start it");
  const runOptions = runCommand().options;
  for (const opt of runOptions) cmd.addOption(opt as Option);
  cmd
    .option("--binary <path>", "rdhpf binary the service runs (default: this binary, when it is the compiled rdhpf)")
    .addOption(platformOption())
    .option("--ssh-auth-sock <path>", "give the service this ssh-agent socket as SSH_AUTH_SOCK (services get none by default)")
    .option("--dry-run", "print the file and the commands; change nothing")
    .option("--force", "replace a service file that rdhpf did not write (kept as <file>.before-rdhpf)")
    .addHelpText("after", `
All options of \`rdhpf run\` are accepted and passed to the service. On macOS
the service logs to ~/Library/Logs/rdhpf/rdhpf.log (rotated) unless
--log-file is given, because launchd never rotates its stdout/stderr files.

Examples:
  rdhpf service install --host ssh://docker@docker-host.example
  rdhpf service install --host dockerbox -F ~/.ssh/config -o IdentityFile=~/.ssh/docker_ed25519
  rdhpf service install --host dockerbox --dry-run --platform darwin
  rdhpf service install --host dockerbox --binary /usr/local/bin/rdhpf --ssh-auth-sock "$SSH_AUTH_SOCK"

Installing again for the same TARGET replaces that service's file and
restarts it. Each further TARGET gets a service of its own
(com.rdhpf.<name> / rdhpf-<name>.service, named after the host); the first
keeps com.rdhpf / rdhpf.service. On another platform than the one asked
for, or without launchctl/systemctl, the commands are printed.`)
    .action(async (_o, command) => {
      const o = command.opts() as Record<string, unknown>;
      const platform = choosePlatform(o.platform as string | undefined, deps.platform);
      const home = deps.env.HOME || homedir();
      const configPath = o.config === undefined ? undefined : resolve(deps.cwd, o.config as string);
      const cfg = loadConfigFile(configPath, deps.env);
      // Same precedence as `rdhpf run`: --host, $RDHPF_HOST, the config file, an ssh:// $DOCKER_HOST, the docker context.
      const target = await chooseTarget(targetSettings({ host: o.host as string | undefined, sshOption: [] }, cfg, deps.env).host, deps.env);
      const binary = chooseBinary(o.binary as string | undefined, deps);
      const dryRun = o.dryRun === true;
      if (!dryRun && platform === deps.platform && !isExecutable(binary)) {
        throw usageError(`${binary} is not an executable file`, "copy the rdhpf binary there first (chmod +x), or pass --binary with its path");
      }
      const runArgs = runArgsFor(runOptions, o, deps.cwd);
      // One service per host: the one already there for this target, else the plain one, else one named after it.
      const name = nameForInstall(target.raw, listServices(platform, home));
      // launchd never rotates StandardErrorPath; rdhpf's own log file does.
      if (platform === "darwin" && o.logFile === undefined && cfg.logFile === undefined) {
        runArgs.push("--log-file", `${launchdLogDir(home, name)}/rdhpf.log`);
      }
      const plan = planService({ platform, name, home, uid: deps.uid, binary, target: target.raw, runArgs, env: sshAuthSockEnv(o.sshAuthSock as string | undefined, deps.cwd) });
      const execute = deps.allowExecute && canRunCommands(platform, deps.platform, deps.env.PATH);
      await installService(plan, { dryRun, execute, force: o.force === true, print: deps.print });
    });
  return cmd as unknown as Command;
}

function uninstallCommand(deps: ServiceCliDeps): Command {
  return withServiceChoice(new Command("uninstall")
    .description("stop the service and remove the file that `rdhpf service install` wrote (never a file it did not write)")
    .addOption(platformOption())
    .option("--dry-run", "print what would be done; change nothing")
    .addHelpText("after", `
Examples:
  rdhpf service uninstall
  rdhpf service uninstall --host ssh://docker@build-host.example
  rdhpf service uninstall --all --dry-run`) as unknown as Command, "remove")
    .action(async (o: Record<string, unknown>) => {
      for (const loc of chosenServices(deps, o)) {
        const execute = deps.allowExecute && canRunCommands(loc.platform, deps.platform, deps.env.PATH);
        await uninstallService(loc, { dryRun: o.dryRun === true, execute, print: deps.print });
      }
    }) as unknown as Command;
}

function statusCommand(deps: ServiceCliDeps): Command {
  return withServiceChoice(new Command("status")
    .description("show whether the service is installed and what launchd/systemd says about it")
    .addOption(platformOption())
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"] as const).default("text" as const))
    .addHelpText("after", `
Exit status: 0 when installed and running (or when the service manager cannot
be asked here), 3 when not installed or not running (with --all: any of them).

Examples:
  rdhpf service status
  rdhpf service status --host ssh://docker@build-host.example
  rdhpf service status --all --format json`) as unknown as Command, "show")
    .action(async (o: Record<string, unknown>) => {
      const statuses = [];
      for (const loc of chosenServices(deps, o)) {
        const execute = deps.allowExecute && canRunCommands(loc.platform, deps.platform, deps.env.PATH);
        const status = await serviceStatus(loc, { execute });
        statuses.push(status);
        const running = status.state === null || status.state === "running" || status.state === "active";
        if (!status.installed || !running) deps.setExitCode(3);
        if (o.format === "json") continue;
        const owner = status.installed ? (status.managed ? "written by rdhpf service install" : "NOT written by rdhpf service install") : "not installed";
        if (status.target !== null) deps.print(`host: ${status.target}`);
        deps.print(`service file: ${status.filePath} (${owner})`);
        deps.print(`state: ${status.state ?? `unknown (${loc.platform === deps.platform ? "service manager not found" : `this machine is not ${loc.platform}`})`}${status.pid !== null ? ` (pid ${status.pid})` : ""}`);
      }
      // One service: its document, as before; --all: a list.
      if (o.format === "json") deps.print(JSON.stringify(o.all === true ? statuses : statuses[0], null, 2));
    }) as unknown as Command;
}

function upgradeTimeout(raw: string): number {
  const ms = parseDuration(raw);
  if (ms === null || ms < 1000) throw usageError(`--timeout ${JSON.stringify(raw)} is not a duration of at least 1 s`, "pass e.g. --timeout 30s or --timeout 2m");
  return ms;
}

function upgradeDeps(deps: ServiceCliDeps, platform: ServicePlatform): UpgradeDeps {
  if (platform !== deps.platform) {
    throw usageError(`the service is upgraded on the machine where it runs; this one is ${deps.platform}`, "run rdhpf service upgrade on that machine");
  }
  return { ...defaultUpgradeDeps(), print: deps.print };
}

function upgradeCommand(deps: ServiceCliDeps): Command {
  return withServiceChoice(new Command("upgrade")
    .description("replace the service's binary with NEW_BINARY without dropping a forward: check, back up, replace, hand over, verify; roll back on failure")
    .argument("<new-binary>", "the new rdhpf binary (the release file for this machine)")
    .addOption(platformOption())
    .option("--timeout <duration>", "how long the new daemon has to answer as expected", "30s")
    .option("--dry-run", "print every step and command; change nothing")
    .addHelpText("after", `
Steps (each one reported; the failed one named, exit 1):
  1. check    NEW --version runs and is rdhpf; its platform is this machine's
  2. replace  the installed binary is copied to <binary>.backup, then NEW is
              written beside it and renamed over it (never half-written)
  3. hand over  SIGUSR2 to the running daemon: it exits at once and leaves its
              SSH master, forwards and connections to its successor
  4. start    launchctl kickstart (without -k) / systemctl --user restart
  5. verify   within --timeout, \`rdhpf status\` of the installed binary answers
              live with the new version, connected, with every forward that
              was active before
On a failure after step 2 the backup is put back, started and verified, as
\`rdhpf service rollback\` does. When the binary's directory needs root, the
exact sudo commands are printed and nothing is changed.

Examples:
  rdhpf service upgrade ./rdhpf-darwin-arm64
  rdhpf service upgrade /tmp/rdhpf-linux-x64 --dry-run
  rdhpf service upgrade ./rdhpf-linux-x64 --timeout 1m
  rdhpf service upgrade ./rdhpf-linux-x64 --all          every host's service, one after the other`) as unknown as Command, "upgrade")
    .action(async (...args: unknown[]) => {
      const [newBinary, o] = args as [string, Record<string, unknown>];
      const timeoutMs = upgradeTimeout(o.timeout as string);
      for (const loc of chosenServices(deps, o)) {
        await upgradeService(resolve(deps.cwd, newBinary), { loc, dryRun: o.dryRun === true, timeoutMs }, upgradeDeps(deps, loc.platform));
      }
    }) as unknown as Command;
}

function rollbackCommand(deps: ServiceCliDeps): Command {
  return withServiceChoice(new Command("rollback")
    .description("put back the binary that the last `rdhpf service upgrade` replaced (<binary>.backup), hand over, start and verify it")
    .addOption(platformOption())
    .option("--timeout <duration>", "how long the restored daemon has to answer", "30s")
    .option("--dry-run", "print every step and command; change nothing")
    .addHelpText("after", `
Examples:
  rdhpf service rollback
  rdhpf service rollback --dry-run
  rdhpf service rollback --host ssh://docker@build-host.example`) as unknown as Command, "roll back")
    .action(async (o: Record<string, unknown>) => {
      const timeoutMs = upgradeTimeout(o.timeout as string);
      for (const loc of chosenServices(deps, o)) {
        await rollbackService({ loc, dryRun: o.dryRun === true, timeoutMs }, upgradeDeps(deps, loc.platform));
      }
    }) as unknown as Command;
}

/** `rdhpf service …`; `deps` replaces the process environment in tests. */
export function serviceCommand(deps: Partial<ServiceCliDeps> = {}): Command {
  const d = { ...defaultDeps(), ...deps };
  // Parse errors of nested commands throw (CommanderError) instead of exiting
  // the process, like those of the top-level commands: the CLI maps them to 2.
  const subcommands = [installCommand(d), uninstallCommand(d), statusCommand(d), upgradeCommand(d), rollbackCommand(d)].map((c) => c.exitOverride());
  const service = new Command("service")
    .description("install, remove or inspect rdhpf as a background service (launchd on macOS, systemd --user on Linux)")
    .addHelpText("after", `
Examples:
  rdhpf service install --host ssh://docker@docker-host.example
  rdhpf service status
  rdhpf service upgrade ./rdhpf-linux-x64
  rdhpf service rollback
  rdhpf service uninstall`);
  for (const c of subcommands) service.addCommand(c);
  return service as unknown as Command;
}
