/**
 * Where forwards listen locally. One answer for `rdhpf run` (which binds
 * there) and `rdhpf doctor` (which checks those ports are free).
 *
 * @module
 */
import { createServer } from "node:net";

/** True when this machine can listen on ::1. */
export async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(0, "::1", () => s.close(() => resolve(true)));
  });
}

/** Where forwards listen: the --bind addresses, else 127.0.0.1 and ::1 (only 127.0.0.1 on a machine without IPv6 loopback). */
export function listenAddresses(binds: string[], ipv6Loopback: boolean): string[] {
  if (binds.length > 0) return binds;
  return ipv6Loopback ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
}
