/**
 * The local docker CLI's current context, as the last place to find the
 * Docker host when neither --host, $RDHPF_HOST nor an ssh:// $DOCKER_HOST
 * names it. Asked with `docker context inspect` (which honours
 * $DOCKER_CONTEXT, $DOCKER_HOST and $DOCKER_CONFIG exactly as `docker` itself
 * does), only when a `docker` binary is on PATH, and never for long.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { z } from "zod";

const log = getLogger(["rdhpf", "docker"]);

/** The docker CLI answers in about 50 ms; a hung one must not hold up the start. */
export const CONTEXT_TIMEOUT_MS = 3000;

const ContextInspectSchema = z.array(
  z.object({
    Name: z.string(),
    // The default context has no description; older CLIs print null metadata.
    Metadata: z.object({ Description: z.string().optional() }).passthrough().nullable().optional(),
    Endpoints: z.object({ docker: z.object({ Host: z.string().optional() }).optional() }).optional(),
  }),
).min(1);

/** A docker context: its name, Docker endpoint and description. */
export interface DockerContext {
  name: string;
  /** The endpoint, e.g. "ssh://docker@build-host" or "unix:///var/run/docker.sock"; "" when the context has none. */
  host: string;
  /** "" when it has none; rdhpf's contexts carry their ssh host here (rdhpf_context.ts). */
  description: string;
}

/** Reads `docker context inspect` output (a JSON array with one context); null when it is not that. */
export function parseContextInspect(stdout: string): DockerContext | null {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return null;
  }
  const parsed = ContextInspectSchema.safeParse(json);
  if (!parsed.success) return null;
  const c = parsed.data[0]!;
  return { name: c.Name, host: c.Endpoints?.docker?.Host ?? "", description: c.Metadata?.Description ?? "" };
}

/** The executable `name` in the directories of `pathEnv`, or null. */
export function findOnPath(name: string, pathEnv: string | undefined): string | null {
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (dir === "") continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** What one run of the local docker CLI did. */
export interface DockerCliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the local docker CLI with `args`; null when there is no `docker` on
 * PATH. Never throws: a failure to start or a timeout is a result with code
 * null and the reason in `stderr`.
 */
export function runDockerCli(args: string[], env: Record<string, string | undefined> = process.env, timeoutMs = CONTEXT_TIMEOUT_MS): Promise<DockerCliResult | null> {
  const docker = findOnPath("docker", env.PATH);
  if (docker === null) return Promise.resolve(null);
  log.debug("Running local docker CLI", { argv: [docker, ...args] });
  return new Promise((resolve) => {
    execFile(docker, args, { env: env as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr).trim() || (err && code === null ? err.message : "") });
    });
  });
}

/**
 * Asks the local docker CLI for a context: the current one (as `docker`
 * itself picks it) when `name` is undefined. Null when there is no `docker`
 * on PATH, no such context, or the CLI fails, times out or prints something
 * unexpected.
 */
export async function inspectDockerContext(name?: string, env: Record<string, string | undefined> = process.env, timeoutMs = CONTEXT_TIMEOUT_MS): Promise<DockerContext | null> {
  const r = await runDockerCli(name === undefined ? ["context", "inspect"] : ["context", "inspect", "--", name], env, timeoutMs);
  if (r === null) return null;
  if (r.code !== 0) {
    log.debug("docker context inspect failed", { code: r.code, stderr: r.stderr });
    return null;
  }
  return parseContextInspect(r.stdout);
}

/** The current docker context (see {@link inspectDockerContext}). */
export function currentDockerContext(env: Record<string, string | undefined> = process.env, timeoutMs = CONTEXT_TIMEOUT_MS): Promise<DockerContext | null> {
  return inspectDockerContext(undefined, env, timeoutMs);
}
