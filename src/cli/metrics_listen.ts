/**
 * `--metrics-listen [ADDR:]PORT` (config key `metricsListen`): where `rdhpf
 * run` serves `/metrics` and `/healthz`. Off unless given; a bare port
 * listens on 127.0.0.1, because the figures name the user's hosts and ports.
 *
 * @module
 */
import { isIP } from "node:net";
import { usageError } from "../errors.ts";
import type { MetricsListen } from "../daemon/mod.ts";

const HINT = "give PORT, ADDR:PORT or [IPV6]:PORT with an IP address, e.g. --metrics-listen 9469 or --metrics-listen 127.0.0.1:9469";

/** Parses the option's value; a usage error (exit 2) names the option and the bad value. */
export function parseMetricsListen(value: string): MetricsListen {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(value.trim());
  const bad = (why: string) => usageError(`invalid --metrics-listen ${JSON.stringify(value)}: ${why}`, HINT);
  if (!m) throw bad("not [ADDR:]PORT");
  const host = m[1] ?? m[2] ?? "127.0.0.1";
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw bad("the port must be 1 to 65535");
  if (isIP(host) === 0 || (m[1] !== undefined && isIP(host) !== 6)) throw bad(`${host} is not an IP address`);
  return { host, port };
}
