/**
 * What a service definition says, independent of the service manager: which
 * binary runs `rdhpf run` against which host, with which options and
 * environment. `launchd.ts` and `systemd.ts` render it; `install.ts` writes it.
 *
 * @module
 */
import { z } from "zod";
import { usageError } from "../errors.ts";

/** Marker written into every file `rdhpf service install` creates; uninstall removes only files carrying it. */
export const MANAGED_MARKER = "Managed by rdhpf service install";

/**
 * PATH for the service: launchd and systemd start jobs with a minimal PATH,
 * and rdhpf must find `ssh` (system /usr/bin, or Homebrew's newer OpenSSH in
 * /usr/local/bin or /opt/homebrew/bin).
 */
export const SERVICE_PATH = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/opt/homebrew/bin";

/**
 * Seconds the service manager waits before starting rdhpf again after it
 * exited (launchd ThrottleInterval, systemd RestartSec).
 *
 * rdhpf heals transient failures itself, so it exits only after a crash or
 * a problem at its very first connection (exit 2). Exit 2 covers permanent
 * problems (unknown host key, rejected key) but also "host unreachable",
 * which at boot or login is usually just the network coming up late: a
 * systemd user manager has no network-online.target to wait for
 * (systemd/systemd#3312) and launchd has no such ordering at all. So exit 2
 * is restarted too, slowly: a real configuration error costs one attempt
 * and one log line per 30 s instead of a hot loop, and the service comes up
 * by itself once the network or the configuration is fixed.
 */
export const RESTART_DELAY_S = 30;

// XML 1.0 cannot carry these at all (not even as character references), and
// no sane argument holds them; tab, newline and carriage return are allowed.
const UNREPRESENTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const ServiceText = z.string().refine((s) => !UNREPRESENTABLE.test(s), {
  message: "contains control characters that a service file cannot carry",
});

const AbsolutePath = ServiceText.refine((s) => s.startsWith("/"), { message: "must be an absolute path" });

export const ServiceSpecSchema = z.object({
  /** Absolute path of the rdhpf binary the service runs. */
  binary: AbsolutePath,
  /** TARGET as the user gave it (alias or ssh:// URL): ssh resolves aliases at every start. */
  target: ServiceText.min(1),
  /** Options after `run --host TARGET`, each one argv element. */
  runArgs: z.array(ServiceText),
  /** The user's home directory (absolute, already expanded). */
  home: AbsolutePath,
  /** launchd only: directory of StandardOutPath/StandardErrorPath. systemd sends output to the journal. */
  logDir: AbsolutePath,
  /** Environment of the service (PATH, optionally SSH_AUTH_SOCK). */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a valid environment variable name"), ServiceText),
});
export type ServiceSpec = z.infer<typeof ServiceSpecSchema>;

/** The argv the service manager starts: `[binary, "run", "--host", target, ...runArgs]`. */
export function serviceArgv(spec: ServiceSpec): string[] {
  return [spec.binary, "run", "--host", spec.target, ...spec.runArgs];
}

/** Validates a spec; a bad field becomes a usage error (exit 2) naming the field. */
export function parseServiceSpec(input: unknown): ServiceSpec {
  const result = ServiceSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "service definition";
  throw usageError(
    `cannot write the service file: ${where} ${issue?.message ?? "is invalid"}`,
    "pass plain absolute paths and options without control characters",
  );
}
