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
    Endpoints: z.object({ docker: z.object({ Host: z.string().optional() }).optional() }).optional(),
  }),
).min(1);

/** The current docker context: its name and Docker endpoint. */
export interface DockerContext {
  name: string;
  /** The endpoint, e.g. "ssh://docker@build-host" or "unix:///var/run/docker.sock"; "" when the context has none. */
  host: string;
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
  return { name: c.Name, host: c.Endpoints?.docker?.Host ?? "" };
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

/**
 * Asks the local docker CLI for its current context. Null when there is no
 * `docker` on PATH, or it fails, times out or prints something unexpected.
 */
export function currentDockerContext(env: Record<string, string | undefined> = process.env, timeoutMs = CONTEXT_TIMEOUT_MS): Promise<DockerContext | null> {
  const docker = findOnPath("docker", env.PATH);
  if (docker === null) return Promise.resolve(null);
  const args = ["context", "inspect"];
  log.debug("Running local docker CLI", { argv: [docker, ...args] });
  return new Promise((resolve) => {
    execFile(docker, args, { env: env as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        log.debug("docker context inspect failed", { error: err.message, stderr: String(stderr).trim() });
        resolve(null);
        return;
      }
      resolve(parseContextInspect(String(stdout)));
    });
  });
}
