/**
 * Names the process that holds a busy local port, for conflict reasons.
 * Platform differences live in port_owner_<platform>.ts.
 *
 * @module
 */
import * as darwin from "./port_owner_darwin.ts";
import * as linux from "./port_owner_linux.ts";

export const findPortOwner: (port: number) => Promise<string | null> = process.platform === "darwin" ? darwin.findPortOwner : linux.findPortOwner;
