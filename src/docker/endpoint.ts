/**
 * The remote Docker endpoint: which command discovers it and how its answer
 * is read. Only a unix socket can be forwarded with `ssh -O forward -L`; every
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
