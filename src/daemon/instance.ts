/**
 * Which instance a command talks about: TARGET and SSH options resolved into
 * the host identity and the instance's files. Shared by every command that
 * talks about one host (`run`, `status --host`, `wait`, `doctor`): one
 * resolution, so that `status` finds the instance that `run` started with
 * the same words. It lives below the CLI and the doctor, which both use it.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { currentDockerContext, type DockerContext, sshHostOfDescription } from "../docker/mod.ts";
import { usageError } from "../errors.ts";
import { instancePaths, type InstancePaths, runtimeDir } from "../paths.ts";
import { defaultTargetFromEnv, instanceIdentity, parseTarget, resolveTarget, type SshContext, type SshTarget, validateSshOption } from "../ssh/mod.ts";

const log = getLogger(["rdhpf", "cli"]);

export interface SshCliOptions {
  configFile: string | null;
  options: string[];
}

/** The two fields of a state file that say which host serves which Docker socket. */
const SocketOwnerSchema = z.object({ host: z.string(), docker: z.object({ client_socket: z.string().nullable().optional() }) });

/**
 * The TARGET of the rdhpf instance (running, or the last one) whose state
 * file in `dir` says it serves the Docker socket at `socketPath`; null when
 * none does. This maps DOCKER_HOST=unix://<rdhpf's socket> back to its host.
 */
export function hostServingSocket(dir: string, socketPath: string): string | null {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".state.json"));
  } catch {
    return null;
  }
  for (const name of names) {
    try {
      const doc = SocketOwnerSchema.safeParse(JSON.parse(readFileSync(join(dir, name), "utf8")));
      if (doc.success && doc.data.docker.client_socket === socketPath) return doc.data.host;
    } catch {
      // unreadable or half-written: not the one
    }
  }
  return null;
}

/** The ssh host behind a unix:// Docker endpoint that is rdhpf's socket; null for any other endpoint. */
function hostBehindUnixEndpoint(endpoint: string | undefined, env: Record<string, string | undefined>): string | null {
  const m = endpoint === undefined ? null : /^unix:\/\/(\/.+)$/i.exec(endpoint);
  return m ? hostServingSocket(runtimeDir(env), m[1]!) : null;
}

/**
 * Picks the TARGET: --host, then $RDHPF_HOST, then an ssh:// $DOCKER_HOST (or
 * a unix:// one that is an rdhpf socket: its host), then the current docker
 * context (asked of the local docker CLI, when there is one): its ssh://
 * endpoint, or the ssh host of an rdhpf context (`rdhpf context install`), so
 * that switching docker to rdhpf's context keeps the host.
 */
export async function chooseTarget(
  host: string | undefined,
  env: Record<string, string | undefined> = process.env,
  dockerContext: (env: Record<string, string | undefined>) => Promise<DockerContext | null> = currentDockerContext,
): Promise<SshTarget> {
  if (host !== undefined) return parseTarget(host);
  const fromEnv = defaultTargetFromEnv(env);
  if (fromEnv) return parseTarget(fromEnv.raw);
  const behindDockerHost = hostBehindUnixEndpoint(env.DOCKER_HOST, env);
  if (behindDockerHost !== null) {
    log.info("Docker host taken from the rdhpf instance that serves $DOCKER_HOST", { docker_host: env.DOCKER_HOST, host: behindDockerHost });
    return parseTarget(behindDockerHost);
  }
  const context = await dockerContext(env);
  if (context !== null && /^ssh:\/\//i.test(context.host)) {
    log.info("Docker host taken from the current docker context", { context: context.name, host: context.host });
    return parseTarget(context.host);
  }
  const behindContext = context === null ? null : sshHostOfDescription(context.description) ?? hostBehindUnixEndpoint(context.host, env);
  if (behindContext !== null) {
    log.info("Docker host taken from the current docker context, an rdhpf context", { context: context!.name, host: behindContext });
    return parseTarget(behindContext);
  }
  const seen = context === null ? "" : `; the current docker context ${JSON.stringify(context.name)} points at ${context.host === "" ? "no Docker endpoint" : context.host}, not ssh://`;
  throw usageError(
    "no Docker host given",
    "pass --host ssh://user@host (or an ssh config alias), or set RDHPF_HOST, or DOCKER_HOST=ssh://user@host, " +
      `or switch to a docker context whose endpoint is ssh:// (docker context use NAME) or one that \`rdhpf context install\` made${seen}`,
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
