/**
 * Option helpers shared by the commands.
 *
 * @module
 */
import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { SshCliOptions } from "../daemon/mod.ts";
import type { ConfigFile } from "./config_file.ts";

/** Commander reducer for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const CONFIG_DEFAULT = "~/.config/rdhpf/config.json";

/**
 * Declares `--host`, `-F`, `-o` and `--config`, the options every command
 * uses to name a Docker host, so that their spelling, parsing and defaults
 * cannot drift apart. `connect` commands (run, doctor) open the connection;
 * `select` commands (status, wait) only use them to find the instance that a
 * `run` with the same options started.
 */
export function withTargetOptions<Args extends unknown[], Opts extends OptionValues>(cmd: Command<Args, Opts>, use: "connect" | "select") {
  const connect = use === "connect";
  return cmd
    .option(
      "--host <target>",
      connect
        ? "ssh://[user@]host[:port] or an ssh config alias (default: $RDHPF_HOST, the config file's host, an ssh:// $DOCKER_HOST, then the current docker context's ssh:// endpoint)"
        : "only the instance for this TARGET (ssh://[user@]host[:port] or an ssh config alias), resolved as `rdhpf run` does",
    )
    .option("-F, --ssh-config <file>", connect ? "ssh client config file passed to every ssh call" : "ssh client config file used to resolve --host")
    .option("-o, --ssh-option <key=value>", connect ? "extra ssh option (repeatable)" : "ssh option used to resolve --host (repeatable)", collect, [] as string[])
    .option(
      "--config <file>",
      connect
        ? `config file with the host, ssh settings, port rules and onConflict (default: ${CONFIG_DEFAULT})`
        : `config file whose ssh settings apply to --host (default: ${CONFIG_DEFAULT})`,
    );
}

/** What {@link withTargetOptions} declares, as commander hands it over. */
export interface TargetCliOptions {
  host?: string;
  sshConfig?: string;
  sshOption: string[];
}

/**
 * The host and ssh settings a command runs with: the command line, then the
 * environment, then the config file. For the host that means `--host`, then
 * `$RDHPF_HOST`, then the file's `host`; when none names one, `chooseTarget`
 * goes on to an ssh:// `$DOCKER_HOST` and the docker context, which name the
 * Docker host for every tool and so come after rdhpf's own settings.
 * `-F` and `-o` on the command line replace the file's `sshConfig` and
 * `sshOptions` (they are not merged: a list given twice would be ambiguous).
 */
export function targetSettings(o: TargetCliOptions, cfg: ConfigFile, env: Record<string, string | undefined>): {
  /** undefined: let `chooseTarget` look at $RDHPF_HOST, $DOCKER_HOST and the docker context. */
  host: string | undefined;
  hostSource: "--host" | "the config file" | null;
  ssh: SshCliOptions;
} {
  const fromFile = o.host === undefined && !env.RDHPF_HOST ? cfg.host : undefined;
  return {
    host: o.host ?? fromFile,
    hostSource: o.host !== undefined ? "--host" : fromFile !== undefined ? "the config file" : null,
    ssh: { configFile: o.sshConfig ?? cfg.sshConfig ?? null, options: o.sshOption.length > 0 ? o.sshOption : cfg.sshOptions ?? [] },
  };
}
