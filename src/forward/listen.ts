/**
 * Where forwards listen locally. One answer for `rdhpf run` (which binds
 * there) and `rdhpf doctor` (which checks those ports are free).
 *
 * @module
 */
import { tryListen } from "../listens.ts";

/** True when this machine can listen on ::1. */
export async function hasIpv6Loopback(): Promise<boolean> {
  return (await tryListen(0, "::1")) === null;
}

/** Where forwards listen: the --bind addresses, else 127.0.0.1 and ::1 (only 127.0.0.1 on a machine without IPv6 loopback). */
export function listenAddresses(binds: string[], ipv6Loopback: boolean): string[] {
  if (binds.length > 0) return binds;
  return ipv6Loopback ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
}
