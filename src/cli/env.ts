/**
 * `rdhpf env`: the shell line that points docker, compose and Testcontainers
 * at rdhpf's Docker socket, for `eval "$(rdhpf env)"`. The instance is
 * resolved as `rdhpf status --host` resolves it; the path comes from the
 * running instance's status, else from the settings `rdhpf run` would use.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { z } from "zod";
import { resolveInstance, type ResolvedInstance } from "../daemon/mod.ts";
import { RdhpfError } from "../errors.ts";
import { dockerClientSocketPath } from "../paths.ts";
import { queryInstance } from "../status/mod.ts";
import { type ConfigFile, loadConfigFile } from "./config_file.ts";
import { dockerSocketSetting } from "./forwarding_options.ts";
import { type TargetCliOptions, targetSettings, withTargetOptions } from "./options.ts";

export const EnvShellSchema = z.enum(["sh", "fish", "powershell"]);
export type EnvShell = z.infer<typeof EnvShellSchema>;

/**
 * The line that sets DOCKER_HOST to the socket in `shell`'s syntax.
 *
 * @example
 * dockerHostLine("/run/user/1000/rdhpf/box.sock", "sh") // "export DOCKER_HOST='unix:///run/user/1000/rdhpf/box.sock'"
 */
export function dockerHostLine(socketPath: string, shell: EnvShell): string {
  const value = `unix://${socketPath}`;
  switch (shell) {
    case "sh":
      return `export DOCKER_HOST=${shQuote(value)}`;
    case "fish":
      // fish reads '\'' differently from sh; inside its single quotes only \\ and \' are special.
      return `set -gx DOCKER_HOST '${value.replace(/[\\']/g, "\\$&")}'`;
    case "powershell":
      // A single-quoted PowerShell string: no expansion, '' is a quote.
      return `$Env:DOCKER_HOST = '${value.replace(/'/g, "''")}'`;
  }
}

function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * The Docker socket of the instance: the one the running rdhpf serves, else
 * the one `rdhpf run` would serve with the config file's settings. Throws
 * (exit 1) when it serves none.
 */
/**
 * The instance the options name (chosen as `rdhpf run` would, resolved as
 * `rdhpf status --host` does) and its Docker socket: what `env` prints and
 * `context install` points a context at.
 */
export async function targetSocket(o: TargetCliOptions & { config?: string }, env: Record<string, string | undefined> = process.env): Promise<{ instance: ResolvedInstance; socketPath: string }> {
  const cfg = loadConfigFile(o.config, env);
  const { host, ssh } = targetSettings(o, cfg, env);
  const instance = await resolveInstance(host, ssh, env);
  return { instance, socketPath: await servedSocketPath(instance, cfg) };
}

export async function servedSocketPath(instance: ResolvedInstance, cfg: ConfigFile): Promise<string> {
  const view = await queryInstance(instance.paths);
  let socketPath: string | null;
  if (view !== null && view.doc.state !== "stopping") {
    socketPath = view.doc.docker.client_socket;
  } else {
    const setting = dockerSocketSetting(cfg.dockerSocket);
    socketPath = setting === false ? null : setting === "default" ? dockerClientSocketPath(instance.paths.dir, instance.target) : setting;
  }
  if (socketPath === null) {
    throw new RdhpfError(
      `rdhpf for ${instance.target.raw} serves no Docker socket`,
      "start it without --no-docker-socket (and without \"dockerSocket\": false in the config file)",
      1,
    );
  }
  return socketPath;
}

export function envCommand(): Command<[], Record<string, unknown>> {
  return withTargetOptions(new Command("env"), "select")
    .description("print the shell line that points docker, compose and Testcontainers at rdhpf's Docker socket")
    .addOption(new Option("--shell <shell>", "syntax of the line").choices(EnvShellSchema.options).default("sh" as const))
    .addHelpText("after", `
Examples:
  eval "$(rdhpf env)"                          sh, bash, zsh: DOCKER_HOST=unix://…/<host>.sock
  eval "$(rdhpf env --host ssh://docker@build-host)" && docker ps
  rdhpf env --shell fish | source
  rdhpf env --shell powershell | Invoke-Expression

The host is chosen as for \`rdhpf run\` and resolved as \`rdhpf status --host\`
does. The path is the one the running rdhpf serves; when none runs, the one
\`rdhpf run\` would serve with the config file's settings.

Exit status: 0 printed; 1 the running rdhpf serves no Docker socket
(started with --no-docker-socket); 2 usage error.`)
    .action(async (o) => {
      const { socketPath } = await targetSocket(o);
      console.log(dockerHostLine(socketPath, o.shell));
    });
}
