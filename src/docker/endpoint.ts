/**
 * The remote Docker endpoint: which command discovers it and how its answer
 * is read. Only a unix socket can be forwarded by the master (a local forward); every
 * other kind is reached through `docker system dial-stdio` on the remote.
 *
 * @module
 */
import { isPort } from "../port.ts";
import { hasUnsafeChars } from "../text_safety.ts";

/**
 * Remote command that prints the endpoint the remote docker CLI would use,
 * honouring the remote DOCKER_HOST and current context. It is the only
 * remote command rdhpf runs per connection.
 */
export const ENDPOINT_DISCOVERY_COMMAND: string[] = [
  "docker",
  "context",
  "inspect",
  "--format",
  "{{.Endpoints.docker.Host}}",
];

/** What the remote docker CLI uses when nothing is configured. */
export const DEFAULT_ENDPOINT = "unix:///var/run/docker.sock";

/**
 * What one run of `ENDPOINT_DISCOVERY_COMMAND` told:
 * - "reported": the CLI exited 0 and printed an endpoint;
 * - "nothing": the CLI exited 0 and printed nothing (no DOCKER_HOST, no
 *   context endpoint): it would use {@link DEFAULT_ENDPOINT};
 * - "failed": no answer to trust (timeout, killed, non-zero exit, ssh
 *   failure, or a last line that is not an endpoint).
 */
export type DiscoveryOutcome =
  | { kind: "reported"; endpoint: string }
  | { kind: "nothing" }
  | { kind: "failed"; reason: string };

/** The parts of a finished remote command that {@link readDiscovery} looks at. */
export interface DiscoveryRun {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Reads one run of `ENDPOINT_DISCOVERY_COMMAND`. Only the last line of
 * stdout counts: a login shell may print a banner before it. Today's CLI
 * prints the default endpoint itself when nothing is configured, so
 * "nothing" is an empty answer from a CLI that exited 0, never the silence
 * of a command that failed.
 *
 * @example
 * readDiscovery({ code: 0, signal: null, timedOut: false, stdout: "unix:///run/user/1000/docker.sock\n", stderr: "" })
 * // { kind: "reported", endpoint: "unix:///run/user/1000/docker.sock" }
 */
export function readDiscovery(r: DiscoveryRun): DiscoveryOutcome {
  if (r.timedOut) return { kind: "failed", reason: "timed out" };
  if (r.code === null) return { kind: "failed", reason: `killed by ${r.signal ?? "a signal"}` };
  if (r.code !== 0) {
    const stderr = r.stderr.trim().split("\n").pop()?.trim() ?? "";
    return { kind: "failed", reason: `exit status ${r.code}${stderr ? `: ${stderr}` : ""}` };
  }
  const last = r.stdout.trim().split("\n").pop()?.trim() ?? "";
  if (last === "") return { kind: "nothing" };
  if (!/^[a-z][a-z0-9+.-]*:\/\/\S*$/i.test(last)) return { kind: "failed", reason: `not an endpoint: ${JSON.stringify(last.slice(0, 80))}` };
  return { kind: "reported", endpoint: last };
}

/** A parsed Docker endpoint. */
export type DockerEndpoint =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; host: string; port: number; tls: boolean }
  | { kind: "npipe" | "ssh" | "other"; raw: string };

/** Docker's convention: 2375 plain, 2376 TLS (the CLI's own defaults). */
const PLAIN_TCP_PORT = 2375;
const TLS_TCP_PORT = 2376;

/**
 * Reads the output of `ENDPOINT_DISCOVERY_COMMAND` (surrounding whitespace
 * and the trailing newline are ignored). TLS is inferred from the scheme
 * (`https://`) or the conventional port 2376; the remote CLI holds the real
 * TLS settings, which is why a tcp endpoint is reached through dial-stdio.
 *
 * @example
 * parseEndpoint("unix:///var/run/docker.sock\n") // { kind: "unix", path: "/var/run/docker.sock" }
 */
export function parseEndpoint(s: string): DockerEndpoint {
  const raw = s.trim();
  // Control and invisible characters never belong in an endpoint; do not let them reach an argv.
  if (hasUnsafeChars(raw)) return { kind: "other", raw };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  switch (scheme) {
    case "unix": {
      const path = raw.slice("unix://".length);
      return path.startsWith("/") ? { kind: "unix", path } : { kind: "other", raw };
    }
    case "tcp":
    case "http":
    case "https":
      return parseTcp(raw, scheme) ?? { kind: "other", raw };
    case "npipe":
      return { kind: "npipe", raw };
    case "ssh":
      return { kind: "ssh", raw };
    default:
      return { kind: "other", raw };
  }
}

function parseTcp(raw: string, scheme: string): DockerEndpoint | null {
  const rest = raw.slice(scheme.length + 3).replace(/\/.*$/, "");
  const m = /^(?:\[([0-9a-f:.%a-z]+)\]|([^:[\]/]+))(?::(\d{1,5}))?$/i.exec(rest);
  if (!m) return null;
  const host = m[1] ?? m[2] ?? "";
  const explicitPort = m[3] === undefined ? null : Number(m[3]);
  if (explicitPort !== null && !isPort(explicitPort)) return null;
  const tls = scheme === "https" || explicitPort === TLS_TCP_PORT;
  const port = explicitPort ?? (tls ? TLS_TCP_PORT : PLAIN_TCP_PORT);
  return { kind: "tcp", host, port, tls };
}
