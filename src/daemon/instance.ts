/**
 * Which instance a command talks about: TARGET and SSH options resolved into
 * the host identity and the instance's files. Shared by every command that
 * talks about one host (`run`, `status --host`, `wait`, `doctor`): one
 * resolution, so that `status` finds the instance that `run` started with
 * the same words. It lives below the CLI and the doctor, which both use it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { currentDockerContext, type DockerContext } from "../docker/mod.ts";
import { usageError } from "../errors.ts";
import { instancePaths, type InstancePaths, runtimeDir } from "../paths.ts";
import { defaultTargetFromEnv, instanceIdentity, parseTarget, resolveTarget, type SshContext, type SshTarget, validateSshOption } from "../ssh/mod.ts";

const log = getLogger(["rdhpf", "cli"]);

export interface SshCliOptions {
  configFile: string | null;
  options: string[];
}

/**
 * Picks the TARGET: --host, then $RDHPF_HOST, then an ssh:// $DOCKER_HOST,
 * then the current docker context when its endpoint is ssh:// (asked of the
 * local docker CLI, when there is one).
 */
export async function chooseTarget(
  host: string | undefined,
  env: Record<string, string | undefined> = process.env,
  dockerContext: (env: Record<string, string | undefined>) => Promise<DockerContext | null> = currentDockerContext,
): Promise<SshTarget> {
  if (host !== undefined) return parseTarget(host);
  const fromEnv = defaultTargetFromEnv(env);
  if (fromEnv) return parseTarget(fromEnv.raw);
  const context = await dockerContext(env);
  if (context !== null && /^ssh:\/\//i.test(context.host)) {
    log.info("Docker host taken from the current docker context", { context: context.name, host: context.host });
    return parseTarget(context.host);
  }
  const seen = context === null ? "" : `; the current docker context ${JSON.stringify(context.name)} points at ${context.host === "" ? "no Docker endpoint" : context.host}, not ssh://`;
  throw usageError(
    "no Docker host given",
    "pass --host ssh://user@host (or an ssh config alias), or set RDHPF_HOST, or DOCKER_HOST=ssh://user@host, " +
      `or switch to a docker context whose endpoint is ssh:// (docker context use NAME)${seen}`,
  );
}

export interface ResolvedInstance {
  target: SshTarget;
  ssh: SshContext;
  /** "user@hostname:port" as ssh itself resolves it (`ssh -G`). */
  identity: string;
  resolved: { user: string; hostname: string; port: number };
  /** True when ssh dials `resolved` itself (no ProxyJump/ProxyCommand), so a TCP probe there tells whether the network path is back. */
  direct: boolean;
  paths: InstancePaths;
}

/** Resolves TARGET and options into the SSH context and the instance's files. */
export async function resolveInstance(host: string | undefined, cli: SshCliOptions, env = process.env): Promise<ResolvedInstance> {
  const target = await chooseTarget(host, env);
  const options = cli.options.map(validateSshOption);
  const dir = runtimeDir(env);
  const draft: SshContext = { sshBinary: env.RDHPF_SSH ?? "ssh", configFile: cli.configFile, options, target, controlPath: "" };
  const { target: resolved, direct } = await resolveTarget(draft);
  const identity = instanceIdentity(resolved);
  const paths = instancePaths(dir, identity);
  return { target, ssh: { ...draft, controlPath: paths.controlSocket }, identity, resolved, direct, paths };
}

/** The identity of a raw TARGET, for `rdhpf status --host`. */
export async function resolveIdentity(raw: string, ssh: SshCliOptions): Promise<string> {
  return (await resolveInstance(raw, ssh)).identity;
}
