/**
 * The optional config file (`~/.config/rdhpf/config.json`, or --config FILE)
 * holds the same settings as `rdhpf run`'s flags. Precedence: command line,
 * then rdhpf's environment variables, then this file; an ssh:// DOCKER_HOST
 * and the docker context come last, after the file's `host`
 * (`targetSettings` in options.ts).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { usageError } from "../errors.ts";
import { MaxForwardsSchema, OnConflictSchema, parsePortMap, parsePortRanges } from "../forward/mod.ts";
import { LogFormatSchema, LogLevelSchema } from "../log/mod.ts";
import { MaxDockerSessionsSchema } from "./forwarding_options.ts";
import { parseMetricsListen } from "./metrics_listen.ts";

/** A port rule (or listen address) string, checked by the parser `rdhpf run` uses, so that the error names the key. */
function portRule(parse: (text: string) => unknown) {
  return z.string().superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });
}

export const ConfigFileSchema = z.strictObject({
  host: z.string().optional(),
  sshConfig: z.string().optional(),
  sshOptions: z.array(z.string()).optional(),
  bind: z.array(z.string()).optional(),
  logLevel: LogLevelSchema.optional(),
  logFormat: LogFormatSchema.optional(),
  logFile: z.string().optional(),
  includePorts: portRule((v) => parsePortRanges(v, "includePorts")).optional(),
  excludePorts: portRule((v) => parsePortRanges(v, "excludePorts")).optional(),
  map: z.array(portRule(parsePortMap)).optional(),
  onConflict: OnConflictSchema.optional(),
  maxForwards: MaxForwardsSchema.optional(),
  /** As `--metrics-listen`: "[ADDR:]PORT", checked by the same parser. */
  metricsListen: portRule(parseMetricsListen).optional(),
  /** Where `rdhpf run` serves its Docker socket, or false for none (see --docker-socket). */
  dockerSocket: z.union([z.string().min(1), z.literal(false)]).optional(),
  /** As `--max-docker-sessions`. */
  maxDockerSessions: MaxDockerSessionsSchema.optional(),
  /** false: answer start calls on the Docker socket at once (see --no-start-hold). */
  startHold: z.boolean().optional(),
});
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

export function defaultConfigPath(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "rdhpf", "config.json");
}

/**
 * Reads and validates the config file. A missing default file is fine; a
 * missing explicit one, bad JSON or a bad key is a usage error naming it.
 */
export function loadConfigFile(path: string | undefined, env = process.env): ConfigFile {
  const file = path ?? defaultConfigPath(env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw usageError(`cannot read config file ${file}: ${(err as Error).message}`, "check the path given to --config");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw usageError(`config file ${file} is not valid JSON: ${(err as Error).message}`, "fix the JSON syntax (a linter such as `jq . FILE` points at the spot)");
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const key = i.path.join(".") || (i.code === "unrecognized_keys" ? (i as { keys?: string[] }).keys?.join(", ") : "") || "(top level)";
      return `${key}: ${i.message}`;
    });
    throw usageError(
      `config file ${file} has bad settings: ${issues.join("; ")}`,
      `allowed keys: ${Object.keys(ConfigFileSchema.shape).join(", ")}`,
    );
  }
  return parsed.data;
}
