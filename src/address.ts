/**
 * How rdhpf writes a host and port: IPv6 addresses in brackets, as ssh's -L
 * and URLs want them ("[::1]:5432"), so that the port can never be read as
 * part of the address.
 *
 * @module
 */
import { isIPv6 } from "node:net";

/** "::1" → "[::1]"; IPv4 addresses and names unchanged. */
export function bracketIpv6(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** "127.0.0.1", 5432 → "127.0.0.1:5432"; "::1", 5432 → "[::1]:5432". */
export function hostPort(host: string, port: number): string {
  return `${bracketIpv6(host)}:${port}`;
}
