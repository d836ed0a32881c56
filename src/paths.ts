/**
 * The one place that knows file paths in the runtime dir.
 *
 * Socket paths must stay short: macOS limits a unix socket path to 104 bytes
 * (sun_path), Linux to 108. The host is therefore hashed into a short key.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";

/** Per-user runtime dir: `$RDHPF_STATE_DIR`, else `$XDG_RUNTIME_DIR/rdhpf`, else `~/.rdhpf`. */
export function runtimeDir(env: Record<string, string | undefined> = process.env): string {
  if (env.RDHPF_STATE_DIR) return env.RDHPF_STATE_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "rdhpf");
  return join(env.HOME || homedir(), ".rdhpf");
}

/** Short stable key for a host identity (e.g. "root@10.200.0.2:22"). */
export function hostKey(identity: string): string {
  return createHash("sha256").update(identity).digest("hex").slice(0, 12);
}

/** All files that belong to one instance (one remote host). */
export interface InstancePaths {
  dir: string;
  key: string;
  /** OpenSSH ControlPath of the master. */
  controlSocket: string;
  /** Local end of the forwarded remote Docker socket. */
  dockerSocket: string;
  /** rdhpf's own status/control socket. */
  controlApiSocket: string;
  /** Lock / pid file: `{pid, masterPid, host}` JSON. */
  lockFile: string;
  /** Last status document, written atomically. */
  stateFile: string;
  /** Remote Docker endpoint found last time (start-up shortcut); written only after a successful discovery. */
  endpointCache: string;
  /**
   * Where rdhpf 0.1.0 kept that cache. It could hold the default endpoint
   * written after a FAILED discovery (another daemon than the user's), so it
   * is never read: it is removed, and the first start after an upgrade asks
   * the remote once.
   */
  legacyEndpointCache: string;
}

export function instancePaths(dir: string, identity: string): InstancePaths {
  const key = hostKey(identity);
  return {
    dir,
    key,
    controlSocket: join(dir, `${key}.ssh.sock`),
    dockerSocket: join(dir, `${key}.docker.sock`),
    controlApiSocket: join(dir, `${key}.api.sock`),
    lockFile: join(dir, `${key}.lock`),
    stateFile: join(dir, `${key}.state.json`),
    endpointCache: join(dir, `${key}.docker-endpoint`),
    legacyEndpointCache: join(dir, `${key}.endpoint`),
  };
}
