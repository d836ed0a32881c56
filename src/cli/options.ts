/**
 * Option helpers shared by the commands.
 *
 * @module
 */
import type { Command, OptionValues } from "@commander-js/extra-typings";

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
