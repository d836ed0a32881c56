/**
 * `rdhpf run`: the daemon. Parses and validates everything before the first
 * ssh process starts, then hands over to the engine.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { isIP } from "node:net";
import { createServer } from "node:net";
import { getLogger } from "@logtape/logtape";
import { startControlServer } from "../daemon/control_server.ts";
import { Engine } from "../daemon/engine.ts";
import { InstanceLock } from "../daemon/lock.ts";
import { ensurePrivateDir, writeFileAtomic } from "../daemon/state_file.ts";
import { usageError } from "../errors.ts";
import { OnConflictSchema } from "../forward/conflict.ts";
import { NO_RULES, parsePortMap, parsePortRanges, type PortRules } from "../forward/rules.ts";
import { LogFormatSchema, LogLevelSchema, setupLogging, stopLogging } from "../log/mod.ts";
import { VERSION } from "../version.ts";
import { loadConfigFile } from "./config_file.ts";
import { collect, withTargetOptions } from "./options.ts";
import { lintSshConfig, readUserSshConfig } from "../ssh/config_lint.ts";
import { resolveInstance } from "./target_options.ts";

const log = getLogger(["rdhpf", "run"]);

/** Seconds the daemon may take to clean up after SIGINT/SIGTERM before it exits anyway. */
const SHUTDOWN_DEADLINE_MS = 1800;

/** True when this machine can listen on ::1 (also used by doctor). */
export async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(0, "::1", () => s.close(() => resolve(true)));
  });
}

export function buildRules(include: string | undefined, exclude: string | undefined, maps: string[]): PortRules {
  const rules: PortRules = { ...NO_RULES, map: {} };
  if (include) rules.include = parsePortRanges(include, "--include-ports");
  if (exclude) rules.exclude = parsePortRanges(exclude, "--exclude-ports");
  for (const m of maps) {
    const [remote, local] = parsePortMap(m);
    rules.map[String(remote)] = local;
  }
  return rules;
}

export function validateBind(addr: string): string {
  const a = addr.replace(/^\[(.*)\]$/, "$1");
  if (isIP(a) === 0) throw usageError(`invalid --bind ${JSON.stringify(addr)}`, "give an IP address, for example --bind 127.0.0.1 or --bind ::1 (repeatable)");
  return a;
}

export function runCommand(): Command<[], Record<string, unknown>> {
  return withTargetOptions(new Command("run"), "connect")
    .description("run the forwarder for one Docker host until stopped (SIGINT, SIGTERM or SIGHUP)")
    .option("--bind <addr>", "local address to listen on, replacing the default 127.0.0.1 and ::1 (repeatable)", collect, [] as string[])
    .option("--include-ports <list>", "forward only these remote ports, e.g. 3000-9999,5432")
    .option("--exclude-ports <list>", "never forward these remote ports, e.g. 22,2375-2376 (wins over --include-ports)")
    .option("--map <remote:local>", "forward remote port REMOTE to local port LOCAL (repeatable)", collect, [] as string[])
    .addOption(new Option("--on-conflict <policy>", "when a local port is taken: wait for it, or use the next free port (default: wait)").choices(OnConflictSchema.options))
    .addOption(new Option("--log-level <level>", "log level (default: $RDHPF_LOG_LEVEL or info)").choices(LogLevelSchema.options))
    .addOption(new Option("--log-format <format>", "log format").choices(LogFormatSchema.options))
    .option("--log-file <path>", "write logs to this file, rotated at 10 MB, 5 files kept (default: stderr)")
    .addHelpText("after", `
Examples:
  rdhpf run --host ssh://docker@build-host.example
  DOCKER_HOST=ssh://docker@build-host.example rdhpf run
  rdhpf run --host dockerbox -F ~/.ssh/config --exclude-ports 22 --log-file ~/Library/Logs/rdhpf/rdhpf.log
  rdhpf run --host ssh://me@[fd00::10]:2222 -o IdentityFile=~/.ssh/docker_ed25519 --map 5432:15432
  rdhpf run --host dockerbox --on-conflict next-free     # local postgres on 5432? the remote one lands on 5433

Exit status: 0 after a signal, 1 when another instance runs for the host,
2 for bad input or a configuration error at the first connection (unknown
host key, authentication failure, unreachable host).`)
    .action(async (o) => {
      const cfg = loadConfigFile(o.config);
      const env = process.env;
      const levelRaw = o.logLevel ?? env.RDHPF_LOG_LEVEL ?? cfg.logLevel ?? "info";
      const level = LogLevelSchema.safeParse(levelRaw);
      if (!level.success) throw usageError(`invalid log level ${JSON.stringify(levelRaw)}`, `use one of ${LogLevelSchema.options.join(", ")}`);
      setupLogging({ level: level.data, format: o.logFormat ?? cfg.logFormat ?? "text", file: o.logFile ?? cfg.logFile ?? null });

      const host = o.host ?? (env.RDHPF_HOST ? undefined : cfg.host);
      const sshOptions = o.sshOption.length > 0 ? o.sshOption : cfg.sshOptions ?? [];
      const rules = buildRules(o.includePorts ?? cfg.includePorts, o.excludePorts ?? cfg.excludePorts, o.map.length > 0 ? o.map : cfg.map ?? []);
      const binds = (o.bind.length > 0 ? o.bind : cfg.bind ?? []).map(validateBind);
      const instance = await resolveInstance(host, { configFile: o.sshConfig ?? cfg.sshConfig ?? null, options: sshOptions });
      const bindAddresses = binds.length > 0 ? binds : (await hasIpv6Loopback()) ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
      if (binds.length === 0 && bindAddresses.length === 1) log.info("No IPv6 loopback on this machine; listening on 127.0.0.1 only");

      // Settings in the user's ssh config that fight rdhpf: warned once, at start.
      const sshConfigText = readUserSshConfig(instance.ssh.configFile ?? undefined) ?? "";
      for (const f of lintSshConfig(sshConfigText, instance.target.host, instance.target.user ?? undefined)) {
        log.warn("ssh config setting conflicts with rdhpf", { key: f.key, value: f.value, problem: f.message, hint: f.hint });
      }

      ensurePrivateDir(instance.paths.dir);
      const lock = await InstanceLock.acquire(instance.paths, instance.target.raw);
      const onConflict = o.onConflict ?? cfg.onConflict ?? "wait";
      const engine = new Engine({ host: instance.target.raw, ssh: instance.ssh, paths: instance.paths, rules, onConflict, bindAddresses, lock, version: VERSION });
      engine.store.resolved = instance.resolved;
      log.info("rdhpf starting", { version: VERSION, host: instance.target.raw, resolved: instance.identity, pid: process.pid, bind: bindAddresses.join(",") });

      const control = await startControlServer(instance.paths.controlApiSocket, () => engine.status());
      const shutdown = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          log.info("Shutting down", { signal: sig });
          shutdown.abort();
          // Cleanup normally takes ~50 ms; never let a stuck ssh keep us past the deadline.
          setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
        } else {
          process.exit(0);
        }
      };
      for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, onSignal);

      try {
        await engine.run(shutdown.signal);
      } finally {
        engine.store.state = "stopping";
        try {
          writeFileAtomic(instance.paths.stateFile, JSON.stringify(engine.status()));
        } catch { /* the runtime dir may be gone; nothing to keep */ }
        await control.close();
        lock.release();
        log.info("rdhpf stopped");
        stopLogging();
      }
    });
}
