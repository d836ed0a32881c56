/**
 * Is a local port free? Asked by listening on it, on every address rdhpf
 * binds, and closing again: the same test ssh's own bind() will face, so
 * a port held on 0.0.0.0, on :: (dual stack) or on one loopback address
 * counts as busy.
 *
 * @module
 */
import { createServer } from "node:net";
import type { PortProbe } from "./conflict.ts";
import { findPortOwner } from "./port_owner.ts";

function canListen(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    // exclusive: a cluster primary must not hand us a shared handle.
    server.listen({ port, host: address, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when `port` can be listened on at each of `addresses`. */
export async function isLocalPortFree(port: number, addresses: readonly string[]): Promise<boolean> {
  for (const address of addresses) if (!(await canListen(port, address))) return false;
  return true;
}

/** The probe `resolveConflicts` uses, for the daemon's bind addresses. */
export function localPortProbe(addresses: readonly string[]): PortProbe {
  return { isFree: (port) => isLocalPortFree(port, addresses), owner: findPortOwner };
}
