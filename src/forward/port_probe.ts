/**
 * Is a local port free? Asked by listening on it, on every address rdhpf
 * binds, and closing again: the same test ssh's own bind() will face, so
 * a port held on 0.0.0.0, on :: (dual stack) or on one loopback address
 * counts as busy.
 *
 * @module
 */
import { tryListen } from "../listens.ts";
import type { PortProbe } from "./conflict.ts";
import { findPortOwner } from "./port_owner.ts";

/** True when `port` can be listened on at each of `addresses`. */
export async function isLocalPortFree(port: number, addresses: readonly string[]): Promise<boolean> {
  for (const address of addresses) if ((await tryListen(port, address)) !== null) return false;
  return true;
}

/** The probe `resolveConflicts` uses, for the daemon's bind addresses. */
export function localPortProbe(addresses: readonly string[]): PortProbe {
  return { isFree: (port) => isLocalPortFree(port, addresses), owner: findPortOwner };
}
