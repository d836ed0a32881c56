/**
 * `rdhpf context install|uninstall`: a docker context that points the docker
 * CLI (and compose, which follows it) at rdhpf's Docker socket, made and
 * removed through the local docker CLI. The plans are pure
 * (docker/rdhpf_context.ts); this file finds the host and socket, runs the
 * steps and prints what they did.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { chooseTarget } from "../daemon/mod.ts";
import { type ContextPlan, defaultContextName, inspectDockerContext, isValidContextName, planInstall, planUninstall, runDockerCli } from "../docker/mod.ts";
import { RdhpfError, usageError } from "../errors.ts";
import { loadConfigFile } from "./config_file.ts";
import { targetSocket } from "./env.ts";
import { targetSettings, withTargetOptions } from "./options.ts";

type Env = Record<string, string | undefined>;

function noDockerCli(): RdhpfError {
  return new RdhpfError(
    "the docker CLI is not on PATH; rdhpf creates and removes docker contexts through it",
    "install the docker client (the CLI alone is enough) or put it on PATH; without it, `eval \"$(rdhpf env)\"` points DOCKER_HOST at rdhpf's socket instead",
  );
}

function checkedName(name: string): string {
  if (!isValidContextName(name)) {
    throw usageError(`invalid docker context name ${JSON.stringify(name)}`, "use letters, digits and _ . + - (starting with a letter or digit, at least 2 characters), e.g. --name rdhpf-build");
  }
  return name;
}

/** Runs a plan's steps in order; the first failing step ends it with docker's own message. */
async function runPlan(plan: ContextPlan, env: Env): Promise<void> {
  if (plan.kind === "refuse") throw new RdhpfError(plan.reason, plan.hint);
  for (const step of plan.steps) {
    const r = await runDockerCli(step.args, env);
    if (r === null) throw noDockerCli();
    if (r.code !== 0) {
      throw new RdhpfError(`docker ${step.args.join(" ")} failed (exit ${r.code ?? "none"}): ${r.stderr || "no message"}`, "run that command yourself to see the whole answer; `docker context ls` shows the contexts");
    }
    console.log(step.says);
  }
}

function installCommand() {
  return withTargetOptions(new Command("install"), "select")
    .description("create a docker context that points at rdhpf's Docker socket for the host")
    .option("--name <name>", "name of the context (default: rdhpf-<host>)")
    .option("--use", "also switch the docker CLI to it (docker context use NAME)")
    .addHelpText("after", `
Examples:
  rdhpf context install --host ssh://docker@build-host --use   then plain \`docker ps\` goes through rdhpf
  rdhpf context install --host dockerbox --name build           then \`docker --context build ps\`
  docker context ls                                             rdhpf's carry "rdhpf: Docker on <host> …"

The endpoint is the socket the running rdhpf serves, else the one \`rdhpf run\`
would serve (as \`rdhpf env\` prints it). The context's description names the
ssh host, so \`rdhpf run\` without --host
still finds the host while that context is current. Installing again under
the same name updates the context rdhpf made (e.g. a new socket path); a
context of that name that rdhpf did not make is left alone. Needs the docker
CLI on PATH; its DOCKER_CONFIG is honoured.

Exit status: 0 done; 1 refused or the docker CLI failed (the message says
why); 2 usage error.`)
    .action(async (o) => {
      const env = process.env;
      const { instance, socketPath } = await targetSocket(o, env);
      const name = checkedName(o.name ?? defaultContextName(instance.target));
      if ((await runDockerCli(["--version"], env)) === null) throw noDockerCli();
      const existing = await inspectDockerContext(name, env);
      await runPlan(planInstall({ name, sshHost: instance.target.raw, socketPath, use: o.use === true, existing }), env);
      if (o.use === true && env.DOCKER_HOST) console.log(`note: DOCKER_HOST is set in this shell and wins over the docker context; unset it to use ${name}`);
      if (o.use !== true) console.log(`use it with: docker --context ${name} ps   (or: docker context use ${name})`);
    });
}

function uninstallCommand() {
  return new Command("uninstall")
    .description("remove a docker context that `rdhpf context install` created (and only such a one)")
    .option("--name <name>", "name of the context (default: rdhpf-<host>, the host chosen as for `rdhpf run`)")
    .option("--host <target>", "the host whose default context name to remove (ssh://[user@]host[:port] or an ssh config alias)")
    .option("--config <file>", "config file whose host applies")
    .addHelpText("after", `
Examples:
  rdhpf context uninstall --host ssh://docker@build-host
  rdhpf context uninstall --name build

A context whose description does not say rdhpf made it is refused. When the
context is the current one, the docker CLI is switched to \`default\` first.

Exit status: 0 removed; 1 refused, not found, or the docker CLI failed; 2 usage error.`)
    .action(async (o) => {
      const env = process.env;
      let name: string;
      if (o.name !== undefined) {
        name = checkedName(o.name);
      } else {
        const cfg = loadConfigFile(o.config, env);
        name = checkedName(defaultContextName(await chooseTarget(targetSettings({ host: o.host, sshOption: [] }, cfg, env).host, env)));
      }
      if ((await runDockerCli(["--version"], env)) === null) throw noDockerCli();
      const existing = await inspectDockerContext(name, env);
      const current = (await inspectDockerContext(undefined, env))?.name ?? null;
      await runPlan(planUninstall({ name, existing, current }), env);
      if (env.DOCKER_CONTEXT === name) console.log(`note: DOCKER_CONTEXT=${name} is set in this shell; unset it (docker now falls back to default)`);
    });
}

export function contextCommand(): Command {
  const context = new Command("context")
    .description("install or remove a docker context that points at rdhpf's Docker socket")
    .addCommand(installCommand().exitOverride())
    .addCommand(uninstallCommand().exitOverride());
  return context.addHelpText("after", `
Examples:
  rdhpf context install --host ssh://docker@build-host --use && docker ps
  rdhpf context uninstall --host ssh://docker@build-host`);
}
