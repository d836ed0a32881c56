/**
 * The options that say what `rdhpf run` forwards and where it listens:
 * `--bind`, `--include-ports`, `--exclude-ports`, `--map`, `--on-conflict`,
 * `--max-forwards`, and where rdhpf serves its Docker socket
 * (`--docker-socket`, `--no-docker-socket`, and `--max-docker-sessions` for
 * its dial-stdio path).
 * Declared and resolved here once, so that `run`, `doctor` (which checks the
 * local ports `run` would take) and `service install` (which validates them
 * before writing a service) agree on their spelling, parsing and precedence.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option, type OptionValues } from "@commander-js/extra-typings";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { DEFAULT_MAX_BRIDGES } from "../docker/mod.ts";
import { usageError } from "../errors.ts";
import { hasUnsafeChars } from "../text_safety.ts";
import { DEFAULT_MAX_FORWARDS, MaxForwardsSchema, NO_RULES, type OnConflict, OnConflictSchema, parsePortMap, parsePortRanges, type PortRules } from "../forward/mod.ts";
import type { ConfigFile } from "./config_file.ts";
import { collect } from "./options.ts";

const log = getLogger(["rdhpf", "cli"]);

export function withForwardingOptions<Args extends unknown[], Opts extends OptionValues>(cmd: Command<Args, Opts>) {
  return cmd
    .option("--bind <addr>", "local address to listen on, replacing the default 127.0.0.1 and ::1 (repeatable)", collect, [] as string[])
    .option("--include-ports <list>", "forward only these remote ports, e.g. 3000-9999,5432")
    .option("--exclude-ports <list>", "never forward these remote ports, e.g. 22,2375-2376 (wins over --include-ports)")
    .option("--map <remote:local>", "forward remote port REMOTE to local port LOCAL (repeatable)", collect, [] as string[])
    .addOption(new Option("--on-conflict <policy>", "when a local port is taken: wait for it, or use the next free port (default: wait)").choices(OnConflictSchema.options))
    .option("--max-forwards <n>", `forward at most N ports of this host; the rest show as ignored in status (default: ${DEFAULT_MAX_FORWARDS})`, parseMaxForwards)
    .option("--docker-socket <path>", "serve the Docker Engine socket for docker, compose and Testcontainers here (default: <runtime dir>/<host>.sock; `rdhpf env` prints it)")
    .option("--no-docker-socket", "do not serve a Docker socket")
    .option(
      "--max-docker-sessions <n>",
      `when sshd refuses socket forwarding (dial-stdio): run at most N remote Docker sessions at once, rdhpf's own included, and queue the rest; keep it below sshd's MaxSessions (default: ${DEFAULT_MAX_BRIDGES})`,
      parseMaxDockerSessions,
    );
}

export const MaxDockerSessionsSchema = z.number().int().min(1).max(1000);

/** Commander parser of `--max-docker-sessions`: a whole number from 1 to 1000. */
export function parseMaxDockerSessions(value: string): number {
  const n = /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN;
  if (!MaxDockerSessionsSchema.safeParse(n).success) throw new InvalidArgumentError("a whole number from 1 to 1000, below sshd's MaxSessions, e.g. --max-docker-sessions 8");
  return n;
}

/** Commander parser of `--max-forwards`: a whole number from 1 to 65535. */
export function parseMaxForwards(value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!MaxForwardsSchema.safeParse(n).success) throw new InvalidArgumentError("a whole number from 1 to 65535, e.g. --max-forwards 1000");
  return n;
}

/** The parsed values of the options above, as commander hands them over. */
export interface ForwardingOptionValues {
  bind: string[];
  includePorts?: string;
  excludePorts?: string;
  map: string[];
  onConflict?: OnConflict;
  maxForwards?: number;
  /** A path, false for --no-docker-socket, undefined when not given. */
  dockerSocket?: string | boolean;
  maxDockerSessions?: number;
}

export interface ForwardingSettings {
  rules: PortRules;
  /** Validated --bind addresses; empty means the default loopbacks (see {@link listenAddresses}). */
  binds: string[];
  onConflict: OnConflict;
  /** Most forwards (local ports) for the host; see `capForwards`. */
  maxForwards: number;
  /** Where to serve the Docker socket: an absolute path, "default" (see `dockerClientSocketPath`), or false: not at all. */
  dockerSocket: string | false;
  /** Most dial-stdio sessions at once (docker/relay.ts). */
  maxDockerSessions: number;
}

/** Command line over config file, each option on its own; throws a usage error naming a bad value. */
export function forwardingSettings(o: ForwardingOptionValues, cfg: ConfigFile): ForwardingSettings {
  return {
    rules: buildRules(o.includePorts ?? cfg.includePorts, o.excludePorts ?? cfg.excludePorts, o.map.length > 0 ? o.map : cfg.map ?? []),
    binds: (o.bind.length > 0 ? o.bind : cfg.bind ?? []).map(validateBind),
    onConflict: o.onConflict ?? cfg.onConflict ?? "wait",
    maxForwards: o.maxForwards ?? cfg.maxForwards ?? DEFAULT_MAX_FORWARDS,
    dockerSocket: dockerSocketSetting(o.dockerSocket ?? cfg.dockerSocket),
    maxDockerSessions: o.maxDockerSessions ?? cfg.maxDockerSessions ?? DEFAULT_MAX_BRIDGES,
  };
}

export function buildRules(include: string | undefined, exclude: string | undefined, maps: string[]): PortRules {
  const rules: PortRules = { ...NO_RULES, map: {} };
  if (include) rules.include = parsePortRanges(include, "--include-ports");
  if (exclude) rules.exclude = parsePortRanges(exclude, "--exclude-ports");
  const given = new Map<number, number[]>();
  for (const m of maps) {
    const [remote, local] = parsePortMap(m);
    rules.map[String(remote)] = local;
    given.set(remote, [...(given.get(remote) ?? []), local]);
  }
  for (const [remote, locals] of given) {
    if (new Set(locals).size < 2) continue;
    // Last wins, as for every repeated flag; but say so, once here and on the forward in status.
    const note = `--map for remote port ${remote} given with ${locals.join(", ")}; the last, ${locals.at(-1)}, applies`;
    rules.mapNotes = { ...rules.mapNotes, [String(remote)]: note };
    log.warn("A remote port is mapped more than once; the last --map applies", { remote_port: remote, local_ports: locals.join(",") });
  }
  return rules;
}

export function validateBind(addr: string): string {
  const a = addr.replace(/^\[(.*)\]$/, "$1");
  if (isIP(a) === 0) throw usageError(`invalid --bind ${JSON.stringify(addr)}`, "give an IP address, for example --bind 127.0.0.1 or --bind ::1 (repeatable)");
  return a;
}

/** `--docker-socket PATH` / `--no-docker-socket` (or the config file's `dockerSocket`) as a setting; a relative path is taken from the working directory. */
export function dockerSocketSetting(value: string | boolean | undefined): string | false {
  if (value === false) return false;
  if (value === undefined || value === true) return "default";
  if (value === "" || hasUnsafeChars(value)) throw usageError(`invalid Docker socket path ${JSON.stringify(value)}`, "give a file path, e.g. --docker-socket ~/.rdhpf/docker.sock, or --no-docker-socket");
  return resolve(value);
}
