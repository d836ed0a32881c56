/**
 * `rdhpf run`: the daemon. Parses and validates everything before the first
 * ssh process starts, then hands over to the engine.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { getLogger } from "@logtape/logtape";
import { decideAdoption, DockerSocketServer, Engine, ensurePrivateDir, inspectPrevious, InstanceLock, resolveInstance, startControlServer, startMetricsServer } from "../daemon/mod.ts";
import { usageError } from "../errors.ts";
import { LogFormatSchema, LogLevelSchema, logBytesWritten, setupLogging, stopLogging } from "../log/mod.ts";
import { dockerClientSocketPath } from "../paths.ts";
import { COMMIT, VERSION } from "../version.ts";
import { loadConfigFile } from "./config_file.ts";
import { forwardingSettings, withForwardingOptions } from "./forwarding_options.ts";
import { parseMetricsListen } from "./metrics_listen.ts";
import { hasIpv6Loopback, listenAddresses } from "../forward/mod.ts";
import { targetSettings, withTargetOptions } from "./options.ts";
import { lintSshConfig, readUserSshConfig } from "../ssh/mod.ts";

const log = getLogger(["rdhpf", "run"]);

/** Seconds the daemon may take to clean up after SIGINT/SIGTERM before it exits anyway. */
const SHUTDOWN_DEADLINE_MS = 1800;

/** `--no-start-hold` beats the config file's `startHold`; on by default. */
export function startHoldSetting(flag: boolean | undefined, cfg: boolean | undefined): boolean {
  return flag === false ? false : cfg ?? true;
}

export function runCommand(): Command<[], Record<string, unknown>> {
  return withForwardingOptions(withTargetOptions(new Command("run"), "connect"))
    .description("run the forwarder for one Docker host until stopped (SIGINT, SIGTERM or SIGHUP; SIGUSR2 hands over to the next start)")
    .addOption(new Option("--log-level <level>", "log level (default: $RDHPF_LOG_LEVEL or info)").choices(LogLevelSchema.options))
    .addOption(new Option("--log-format <format>", "log format").choices(LogFormatSchema.options))
    .option("--log-file <path>", "write logs to this file, rotated at 10 MB, 5 files kept (default: stderr)")
    .option("--no-start-hold", "answer `docker start`/`docker run` through rdhpf's socket at once, without waiting (≤ 2 s) for the container's forwards")
    .option("--metrics-listen <[addr:]port>", "serve /metrics (Prometheus, OpenMetrics) and /healthz over HTTP here; a bare port means 127.0.0.1 (default: off)")
    .addHelpText("after", `
Examples:
  rdhpf run --host ssh://docker@build-host.example
  DOCKER_HOST=ssh://docker@build-host.example rdhpf run
  rdhpf run --host dockerbox -F ~/.ssh/config --exclude-ports 22 --log-file ~/Library/Logs/rdhpf/rdhpf.log
  rdhpf run --host ssh://me@[fd00::10]:2222 -o IdentityFile=~/.ssh/docker_ed25519 --map 5432:15432
  rdhpf run --host dockerbox --on-conflict next-free     # local postgres on 5432? the remote one lands on 5433
  rdhpf run --host dockerbox --metrics-listen 9464       # scrape http://127.0.0.1:9464/metrics
  rdhpf run --host dockerbox & eval "$(rdhpf env --host dockerbox)"; docker ps   # docker through rdhpf's socket

Signals: SIGTERM, SIGINT and SIGHUP cancel the forwards, end the SSH master and exit.
SIGUSR2 hands over: rdhpf exits at once and leaves the master and its forwards (and
every connection through them) running; the next \`rdhpf run\` for the host adopts them.

Exit status: 0 after a signal, 1 when another instance runs for the host,
2 for bad input (including a --metrics-listen port in use) or a configuration error at the first connection (unknown
host key, authentication failure, unreachable host).`)
    .action(async (o) => {
      const cfg = loadConfigFile(o.config);
      const env = process.env;
      const levelRaw = o.logLevel ?? env.RDHPF_LOG_LEVEL ?? cfg.logLevel ?? "info";
      const level = LogLevelSchema.safeParse(levelRaw);
      if (!level.success) throw usageError(`invalid log level ${JSON.stringify(levelRaw)}`, `use one of ${LogLevelSchema.options.join(", ")}`);
      setupLogging({ level: level.data, format: o.logFormat ?? cfg.logFormat ?? "text", file: o.logFile ?? cfg.logFile ?? null });

      const { host, ssh } = targetSettings(o, cfg, env);
      const { rules, binds, onConflict, maxForwards, dockerSocket, maxDockerSessions } = forwardingSettings(o, cfg);
      const metricsRaw = o.metricsListen ?? cfg.metricsListen;
      const metricsListen = metricsRaw === undefined ? null : parseMetricsListen(metricsRaw);
      const instance = await resolveInstance(host, ssh, env);
      const bindAddresses = listenAddresses(binds, await hasIpv6Loopback());
      if (binds.length === 0 && bindAddresses.length === 1) log.info("No IPv6 loopback on this machine; listening on 127.0.0.1 only");

      // Settings in the user's ssh config that fight rdhpf: warned once, at start.
      const sshConfigText = readUserSshConfig(instance.ssh.configFile ?? undefined) ?? "";
      for (const f of lintSshConfig(sshConfigText, instance.target.host, instance.target.user ?? undefined)) {
        log.warn("ssh config setting conflicts with rdhpf", { key: f.key, value: f.value, problem: f.message, hint: f.hint });
      }

      ensurePrivateDir(instance.paths.dir);
      const lock = await InstanceLock.acquire(instance.paths, instance.target.raw, async (masterPid) => decideAdoption(await inspectPrevious(masterPid, instance.paths, instance.ssh)));
      const adoption = lock.adoption;
      if (adoption.action === "adopt") {
        log.info("Adopting the SSH master of the previous run: no new connection", { master_pid: adoption.masterPid, forwards: adoption.forwards.length });
      } else {
        log.info("Starting a new SSH master", { why: adoption.reason });
      }
      let socket: DockerSocketServer | null = null;
      try {
        socket = dockerSocket === false ? null : await DockerSocketServer.start({
          path: dockerSocket === "default" ? dockerClientSocketPath(instance.paths.dir, instance.target) : dockerSocket,
        });
      } catch (err) {
        lock.release();
        throw err;
      }
      const engine = new Engine({
        host: instance.target.raw, ssh: instance.ssh, paths: instance.paths, rules, onConflict, maxForwards, bindAddresses, lock, version: VERSION,
        build: { commit: COMMIT, logBytesWritten },
        routeProbe: instance.direct ? { host: instance.resolved.hostname, port: instance.resolved.port } : null, resolved: instance.resolved,
        dockerSocket: socket, maxDockerSessions, adopt: adoption.action === "adopt" ? adoption : null, startHold: startHoldSetting(o.startHold, cfg.startHold),
      });
      log.info("rdhpf starting", { version: VERSION, host: instance.target.raw, resolved: instance.identity, pid: process.pid, bind: bindAddresses.join(",") });

      // Before the control socket and the first ssh: a port in use is bad input, reported at start.
      let metrics;
      try {
        metrics = metricsListen === null ? null : await startMetricsServer(metricsListen, () => engine.status());
      } catch (err) {
        await socket?.close();
        lock.release();
        throw err;
      }
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
      // Hand-over: leave master, forwards and state for the next start (adoption.ts).
      process.on("SIGUSR2", () => {
        if (signals++ > 0) return;
        log.info("Handing over: leaving the SSH master and its forwards for the next start", { signal: "SIGUSR2" });
        engine.handOver();
        shutdown.abort();
        setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
      });

      // The engine starts the SSH master first thing: its handshake, the
      // longest step of a start, overlaps the control socket's set-up.
      const running = engine.run(shutdown.signal);
      // Awaited below; this keeps an early failure from counting as unhandled meanwhile.
      running.catch(() => undefined);
      let control: Awaited<ReturnType<typeof startControlServer>> | null = null;
      try {
        control = await startControlServer(instance.paths.controlApiSocket, () => engine.status());
        await running;
      } catch (err) {
        shutdown.abort();
        await running.catch(() => undefined);
        throw err;
      } finally {
        await socket?.close();
        await control?.close();
        await metrics?.close();
        lock.release();
        log.info("rdhpf stopped");
        stopLogging();
      }
    });
}
