/**
 * Several hosts on one machine: each gets a service of its own. The first
 * (or only) one keeps the plain names (`com.rdhpf`, `rdhpf.service`), so
 * services installed before there could be several go on working; each
 * further host gets `com.rdhpf.<name>` / `rdhpf-<name>.service`, with a
 * name made from its target. Which service a command means is decided here,
 * purely, from the services installed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { usageError } from "../errors.ts";
import { isManagedServiceFile, serviceArgvFromFile, serviceDir, serviceNameOfFile, type ServiceName, type ServicePlatform } from "./plan.ts";

/** A service `rdhpf service install` wrote, as found on this machine. */
export interface InstalledService {
  name: ServiceName;
  /** TARGET as given to install. */
  target: string;
  filePath: string;
}

/** The services `rdhpf service install` wrote for this user (files it did not write are not listed). */
export function listServices(platform: ServicePlatform, home: string): InstalledService[] {
  const dir = serviceDir(platform, home);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const found: InstalledService[] = [];
  for (const file of files) {
    const name = serviceNameOfFile(platform, file);
    if (name === undefined) continue;
    const filePath = join(dir, file);
    let content: string;
    try {
      content = readFileSync(filePath, "utf8");
    } catch {
      continue;
    }
    const argv = isManagedServiceFile(platform, content) ? serviceArgvFromFile(platform, content) : null;
    if (argv !== null) found.push({ name, target: argv[3] as string, filePath });
  }
  // The first (plain) service first, then by name.
  return found.sort((a, b) => (a.name === null ? -1 : b.name === null ? 1 : a.name.localeCompare(b.name)));
}

/**
 * A service name made from a target: the host part of `ssh://user@host:port`
 * or the alias, in letters, digits, `_ . -`; e.g. `build-host.example-2222`.
 */
export function serviceNameFor(target: string): string {
  const bare = target.replace(/^ssh:\/\//, "").replace(/^[^@/]*@/, "").replace(/\/.*$/, "");
  const name = bare.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 48).replace(/[-.]+$/, "");
  return name || "host";
}

/**
 * The service to write for `target`: the one already installed for it, else
 * the plain one when it is free, else one named after the target (with a
 * short hash when another target took that name).
 */
export function nameForInstall(target: string, installed: readonly InstalledService[]): ServiceName {
  const same = installed.find((s) => s.target === target);
  if (same) return same.name;
  if (!installed.some((s) => s.name === null)) return null;
  const name = serviceNameFor(target);
  if (!installed.some((s) => s.name === name)) return name;
  return `${name}-${createHash("sha256").update(target).digest("hex").slice(0, 8)}`;
}

/**
 * The services `status`, `uninstall`, `upgrade` and `rollback` act on:
 * `--all`, the one for `--host` (its target or its name), or the only one.
 * None installed: the plain one, for the command to say so. Several and no
 * choice: a usage error that lists them.
 */
export function selectServices(installed: readonly InstalledService[], choice: { host?: string; all?: boolean }): Array<InstalledService | { name: null; target: null; filePath: null }> {
  const list = () => installed.map((s) => `  --host ${s.target}   (${s.name ?? "the first service"})`).join("\n");
  if (choice.all) return installed.length > 0 ? [...installed] : [{ name: null, target: null, filePath: null }];
  if (choice.host !== undefined) {
    const hit = installed.find((s) => s.target === choice.host || s.name === choice.host);
    if (hit) return [hit];
    throw usageError(`no rdhpf service is installed for ${choice.host}`, installed.length > 0 ? `installed:\n${list()}` : "install one with rdhpf service install --host TARGET");
  }
  if (installed.length <= 1) return installed.length === 1 ? [installed[0] as InstalledService] : [{ name: null, target: null, filePath: null }];
  throw usageError(`${installed.length} rdhpf services are installed; say which`, `pass one of these, or --all:\n${list()}`);
}
